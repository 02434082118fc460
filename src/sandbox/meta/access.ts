// Who may call what on the Meta simulator: which token (user or Page), which permissions and which Page
// task each kind of call needs, as Graph decides (platforms.md §3 "Scopes", §4 "Permissions"). Writing to a
// Page takes that Page's token with pages_manage_posts and pages_read_engagement, from a person with the
// CREATE_CONTENT task; Instagram calls take a token of the linked Page, or of a person with a role on it.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { graphError, noSuchObject, permissionError, type MetaSimConfig } from './graph.js';
import type { MetaState, SimIgUser, SimPage } from './state.js';
import type { Auth, MetaTokens } from './tokens.js';

export type SimDeps = {
  state: MetaState;
  config: MetaSimConfig;
  tokens: MetaTokens;
  /** Where this mount is reachable ("http://127.0.0.1:port/facebook"), for upload URLs and permalinks. */
  web(req: FastifyRequest): string;
};

export const PAGE_WRITE = ['pages_manage_posts', 'pages_read_engagement'];
export const PAGE_READ = ['pages_read_engagement'];
export const IG_PUBLISH = ['instagram_basic', 'instagram_content_publish', 'pages_read_engagement'];
export const IG_READ = ['instagram_basic', 'pages_read_engagement'];
export const IG_COMMENT = ['instagram_basic', 'instagram_manage_comments', 'pages_read_engagement'];

const PAGE_POSTING =
  '(#200) If posting to a group, requires app being installed in the group, and either publish_to_groups permission with user token, or both pages_read_engagement and pages_manage_posts permission with page token; If posting to a page, requires both pages_read_engagement and pages_manage_posts as an admin with sufficient administrative permission';

export const idParam = (req: FastifyRequest) => (req.params as { id: string }).id;

/** A call on a Page edge: the Page's own token, these permissions and, to write, the CREATE_CONTENT task. */
export async function asPage(d: SimDeps, req: FastifyRequest, reply: FastifyReply, needed: string[], write: boolean): Promise<{ auth: Auth; page: SimPage } | undefined> {
  const auth = await d.tokens.authorize(req, reply);
  if (!auth) return undefined;
  const page = d.state.pages.get(idParam(req));
  if (!page) return void noSuchObject(reply, idParam(req));
  const missing = needed.filter((p) => !auth.scopes.includes(p));
  if (write && (auth.kind !== 'page' || auth.pageId !== page.id || missing.length > 0)) return void graphError(reply, 403, 200, PAGE_POSTING);
  if (!write && auth.kind !== 'page') return void graphError(reply, 400, 210, '(#210) A page access token is required to request this resource.');
  if (!write && auth.pageId !== page.id) return void noSuchObject(reply, page.id);
  if (missing.length > 0) return void permissionError(reply, missing);
  if (write && !(page.roles.get(auth.user.id) ?? []).includes('CREATE_CONTENT')) {
    return void graphError(reply, 403, 200, '(#200) The user needs the CREATE_CONTENT task on this Page to publish to it');
  }
  return { auth, page };
}

/** May this token act for the Page: its own Page token, or a user token of someone with a role on it. */
export function actsFor(auth: Auth, page: SimPage): boolean {
  return auth.kind === 'page' ? auth.pageId === page.id : page.roles.has(auth.user.id);
}

/** A call on an Instagram account's edge (`/{ig-user-id}/…`). */
export async function asIg(d: SimDeps, req: FastifyRequest, reply: FastifyReply, needed: string[]): Promise<{ auth: Auth; ig: SimIgUser; page: SimPage } | undefined> {
  const auth = await d.tokens.authorize(req, reply);
  if (!auth) return undefined;
  const ig = d.state.igUsers.get(idParam(req));
  const page = ig ? d.state.pages.get(ig.pageId) : undefined;
  if (!ig || !page || !actsFor(auth, page)) return void noSuchObject(reply, idParam(req));
  const missing = needed.filter((p) => !auth.scopes.includes(p));
  if (missing.length > 0) return void permissionError(reply, missing);
  return { auth, ig, page };
}
