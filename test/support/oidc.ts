// A real OAuth 2.0 authorization server (oidc-provider) for the generic OAuth client's tests, set up the way
// test-peers.md describes: PKCE required, refresh tokens issued and rotated, revocation on, and an
// auto-consent interaction so a test can run the whole browser flow with plain HTTP.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export const CLIENT = { clientId: 'crier-test', clientSecret: 'a-long-enough-client-secret-for-hs256-use' };
export const REDIRECT_URI = 'http://127.0.0.1:9/callback';

export type OidcServer = { issuer: string; close(): Promise<void>; authorize(url: string): Promise<URL> };

export async function startOidcServer(opts: { clientAuth?: 'client_secret_basic' | 'client_secret_post' } = {}): Promise<OidcServer> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT.clientId,
        client_secret: CLIENT.clientSecret,
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: opts.clientAuth ?? 'client_secret_basic',
      },
    ],
    scopes: ['openid', 'offline_access', 'posts.write'],
    pkce: { required: () => true },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    features: { revocation: { enabled: true }, devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    cookies: { keys: ['test-cookie-key'] },
  });
  // Auto-consent: log "alice" in and grant every requested scope.
  server.on('request', async (req, res) => {
    if (!req.url?.startsWith('/interaction/')) return provider.callback()(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'login') {
        await provider.interactionFinished(req, res, { login: { accountId: 'alice' } }, { mergeWithLastSubmission: false });
        return;
      }
      const grant = details.grantId ? (await provider.Grant.find(details.grantId))! : new provider.Grant({ accountId: details.session!.accountId, clientId: details.params['client_id'] as string });
      grant.addOIDCScope(String(details.params['scope']));
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    } catch (e) {
      res.statusCode = 500;
      res.end(String(e));
    }
  });
  return {
    issuer,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
    /** Follows the browser redirects (keeping cookies) until the server sends the user back to the redirect URI. */
    async authorize(url: string): Promise<URL> {
      const cookies = new Map<string, string>();
      let next = url;
      for (let hops = 0; hops < 12; hops++) {
        const res = await fetch(next, { redirect: 'manual', headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
        for (const c of res.headers.getSetCookie()) {
          const [pair] = c.split(';');
          const [k, ...v] = pair!.split('=');
          cookies.set(k!.trim(), v.join('='));
        }
        const location = res.headers.get('location');
        if (!location) throw new Error(`authorization stopped at ${next}: ${res.status} ${(await res.text()).slice(0, 300)}`);
        const target = new URL(location, next);
        if (target.toString().startsWith(REDIRECT_URI)) return target;
        next = target.toString();
      }
      throw new Error('too many redirects');
    },
  };
}
