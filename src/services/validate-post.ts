// Checks a post against its target accounts before anything is stored: accounts exist in the workspace and
// are connected, per-platform options are known and well-formed, and each platform accepts the content.
import { getAccountsByIds, type AccountRow } from '../db/queries/accounts.js';
import type { Queryable } from '../db/pool.js';
import { getConnector } from '../connectors/registry.js';
import { bodyAjv } from '../lib/ajv.js';
import { ApiError, type ErrorDetail } from '../http/errors.js';
import type { ValidateFunction } from 'ajv';

const compiled = new Map<string, ValidateFunction>();

function optionsValidator(platform: string): ValidateFunction | undefined {
  if (!compiled.has(platform)) {
    const connector = getConnector(platform);
    if (!connector) return undefined;
    compiled.set(platform, bodyAjv.compile(connector.optionsSchema));
  }
  return compiled.get(platform);
}

/** Loads the target accounts, refusing unknown, foreign and unconnected ones. Order follows `ids`. */
export async function loadTargetAccounts(q: Queryable, workspaceId: string, ids: string[]): Promise<AccountRow[]> {
  const found = await getAccountsByIds(q, workspaceId, ids);
  const byId = new Map(found.map((a) => [a.id, a]));
  const missing = ids.filter((id) => !byId.has(id));
  if (missing.length > 0) {
    throw new ApiError(
      'ACCOUNT_NOT_FOUND',
      `no account ${missing.join(', ')} in this workspace`,
      missing.map((id) => ({ field: `body.account_ids`, account_id: id, message: 'not found in this workspace' })),
    );
  }
  const unusable = found.filter((a) => a.status !== 'connected');
  if (unusable.length > 0) {
    throw new ApiError(
      'ACCOUNT_NOT_CONNECTED',
      `account ${unusable.map((a) => `${a.id} is ${a.status}`).join(', ')}`,
      unusable.map((a) => ({ account_id: a.id, status: a.status, message: a.status_reason ?? `account is ${a.status}` })),
    );
  }
  return ids.map((id) => byId.get(id)!);
}

export type PostContent = { text: string; options: Record<string, Record<string, unknown>> };

/** The text a platform receives: its `options.<platform>.text` override, else the post's text. */
export function effectiveText(content: PostContent, platform: string): string {
  const override = content.options[platform]?.['text'];
  return typeof override === 'string' ? override : content.text;
}

export function validateContent(content: PostContent, accounts: AccountRow[], mediaKinds: ('image' | 'video')[]): void {
  const platforms = new Set(accounts.map((a) => a.platform));
  const optionProblems: ErrorDetail[] = [];
  for (const [platform, value] of Object.entries(content.options)) {
    if (!platforms.has(platform)) {
      optionProblems.push({ field: `body.options.${platform}`, message: `no target account is on ${platform}` });
      continue;
    }
    const check = optionsValidator(platform);
    if (!check) {
      optionProblems.push({ field: `body.options.${platform}`, message: `${platform} takes no options here (it publishes only through a provider)` });
      continue;
    }
    if (!check(value)) {
      for (const e of check.errors ?? []) {
        const where = `body.options.${platform}${e.instancePath.replace(/\//g, '.')}`;
        const extra = e.keyword === 'additionalProperties' ? `unknown field "${String(e.params['additionalProperty'])}"` : e.message;
        optionProblems.push({ field: where, message: extra ?? 'is invalid' });
      }
    }
  }
  if (optionProblems.length > 0) {
    throw new ApiError('VALIDATION_FAILED', optionProblems.map((p) => `${p['field']}: ${p.message}`).join('; '), optionProblems);
  }
  const issues: ErrorDetail[] = [];
  const checkedPlatforms = new Set<string>();
  for (const account of accounts) {
    if (checkedPlatforms.has(account.platform)) continue; // validation is per platform, not per account
    checkedPlatforms.add(account.platform);
    // A platform reached only through a provider has no connector of its own: the provider validates.
    const connector = getConnector(account.platform);
    if (!connector) continue;
    const text = effectiveText(content, account.platform);
    for (const issue of connector.validate({ text, options: content.options[account.platform] ?? {}, media: mediaKinds.map((kind) => ({ kind })) })) {
      issues.push({ platform: account.platform, account_ids: accounts.filter((a) => a.platform === account.platform).map((a) => a.id), ...issue });
    }
  }
  if (issues.length > 0) {
    throw new ApiError('CONTENT_INVALID', issues.map((i) => `${i['platform']}: ${i.message}`).join('; '), issues);
  }
}
