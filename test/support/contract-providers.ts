// Contract fixtures for the aggregator providers: each runs the shared suite through the connector a
// provider account publishes with (src/providers/connector.ts), with one route to that provider's
// simulator. The route's base URL follows ctx.baseUrl, so the suite's "unreachable" case reaches nowhere.
// A provider answers for a key (a project), so faults and counts are per key: externalId is the key's
// project id, and each key holds one social account.
import type { PlatformId } from '../../src/connectors/types.js';
import { providerConnector, type ProviderCredentials } from '../../src/providers/connector.js';
import type { ProviderName, ProviderRoute } from '../../src/providers/types.js';
import type { SandboxServer } from '../../src/sandbox/index.js';
import { baseCtx, type ContractAccount, type ContractFixture } from './contract.js';

function providerFixture(provider: ProviderName, platform: PlatformId, mount: string, errorBody: ContractFixture['errorBody'], posted: ContractFixture['posted']): ContractFixture {
  let current: ContractAccount | undefined;
  const route: ProviderRoute = {
    provider,
    source: 'workspace',
    apiKey: '',
    get baseUrl() {
      return current!.ctx.baseUrl;
    },
  };
  return {
    name: provider,
    connector: providerConnector(platform, [route]),
    core: (s) => s[provider].core,
    publishOperation: 'create_post',
    async account(sandbox: SandboxServer) {
      const sim = sandbox[provider];
      // Results right away: the suite reads a post back as soon as its answer was lost.
      sim.config.processingMs = 0;
      const key = sim.newKey();
      const social = sim.addAccount(key, platform, `contract_${Math.random().toString(36).slice(2, 8)}`);
      route.apiKey = key.key;
      const credentials: ProviderCredentials = { provider, accountId: social.id, platform, username: social.username, profileId: key.profileId };
      const saved: unknown[] = [];
      const ctx = baseCtx(sandbox, mount, credentials, saved);
      current = { ctx, externalId: key.projectId, saved, refreshed: () => 0 };
      return current;
    },
    errorBody,
    posted,
    refreshes: false,
    // A refused provider key is that route's configuration, not the account's access: the account stays.
    lostAccess: ['permanent'],
  };
}

const keyOfProject = (s: SandboxServer, provider: ProviderName, projectId: string) => [...s[provider].keys.values()].find((k) => k.projectId === projectId)?.key;

export const PROVIDER_FIXTURES: ContractFixture[] = [
  providerFixture(
    'postforme',
    'linkedin',
    'postforme/v1',
    (status) => ({ statusCode: status, message: status === 400 ? 'caption exceeds the 3000 characters LinkedIn allows' : 'Forbidden resource', error: status === 400 ? 'Bad Request' : 'Forbidden' }),
    (s, projectId) => [...s.postforme.posts.values()].filter((p) => p.key === keyOfProject(s, 'postforme', projectId)).length,
  ),
  providerFixture(
    'late',
    'x',
    'late/api/v1',
    (status) => ({ error: status === 400 ? 'Content exceeds the 280 characters X allows' : 'Your plan does not include this platform', code: status === 400 ? 'validation_error' : 'forbidden' }),
    (s, projectId) => [...s.late.posts.values()].filter((p) => p.key === keyOfProject(s, 'late', projectId)).length,
  ),
];
