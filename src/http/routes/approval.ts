// Approval: approve or reject a post awaiting it (keys with the `approve` scope), and reviewer links for
// people without keys: a signed, expiring page that shows the post as each platform will get it and lets
// the reviewer decide once.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { getPost, getPublicationsOfPosts } from '../../db/queries/posts.js';
import { withTransaction } from '../../db/pool.js';
import { isId } from '../../lib/ids.js';
import { createReviewLink, decide, decideByLink, openReviewLink } from '../../services/approval.js';
import { postMediaOptions } from '../../services/media-files.js';
import { publicMediaUrl } from '../../services/media-delivery.js';
import { effectiveText } from '../../services/validate-post.js';
import type { RouteDeps } from '../app.js';
import { workspaceOf } from '../auth.js';
import { ApiError, notFound } from '../errors.js';
import { errorResponses, instant } from '../schemas.js';
import { postView } from '../views.js';

const tags = ['posts'];
const Params = Type.Object({ id: Type.String() });
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function registerApprovalRoutes(app: FastifyInstance, { ctx }: RouteDeps): void {
  const wake = () => postMediaOptions(ctx).wakeWithinMs;
  const keyOf = (req: { principal?: { keyId: string } }) => req.principal!.keyId;

  app.post<{ Params: { id: string } }>(
    '/v1/posts/:id/approve',
    { config: { auth: 'workspace', scope: 'approve' }, schema: { tags, summary: 'Approve a post awaiting approval (key scope `approve`)', params: Params, response: { 200: Type.Ref('Post'), ...errorResponses(401, 403, 404, 409) } } },
    async (req) => {
      if (!isId('post', req.params.id)) throw notFound('post');
      const r = await withTransaction(ctx.db, (tx) => decide(tx, workspaceOf(req), req.params.id, { decision: 'approved', by: keyOf(req) }, ctx.clock.now(), wake()));
      return postView(r.post, r.publications);
    },
  );

  app.post<{ Params: { id: string }; Body: { reason: string } }>(
    '/v1/posts/:id/reject',
    {
      config: { auth: 'workspace', scope: 'approve' },
      schema: { tags, summary: 'Reject a post awaiting approval: it goes back to draft with the reason', params: Params, body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false }), response: { 200: Type.Ref('Post'), ...errorResponses(400, 401, 403, 404, 409) } },
    },
    async (req) => {
      if (!isId('post', req.params.id)) throw notFound('post');
      const r = await withTransaction(ctx.db, (tx) => decide(tx, workspaceOf(req), req.params.id, { decision: 'rejected', by: keyOf(req), reason: req.body.reason }, ctx.clock.now(), wake()));
      return postView(r.post, r.publications);
    },
  );

  app.post<{ Params: { id: string }; Body: { expires_in_hours?: number } }>(
    '/v1/posts/:id/review_links',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: 'A reviewer link: a page that shows the post and lets someone without a key approve or reject it once',
        params: Params,
        body: Type.Optional(Type.Object({ expires_in_hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 720, default: 168 })) }, { additionalProperties: false })),
        response: { 201: Type.Object({ id: Type.String(), url: Type.String({ description: 'Shown once.' }), expires_at: instant('UTC') }), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      if (!isId('post', req.params.id)) throw notFound('post');
      const base = (ctx.config.publicUrl ?? ctx.apiUrl ?? '').replace(/\/$/, '');
      const link = await createReviewLink(ctx.db, workspaceOf(req), req.params.id, req.body?.expires_in_hours ?? 168, ctx.clock.now());
      return reply.code(201).send({ id: link.id, url: `${base}/review/${link.token}`, expires_at: link.expiresAt.toISOString() });
    },
  );

  const page = (reply: FastifyReply, status: number, title: string, body: string) =>
    reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').header('referrer-policy', 'no-referrer')
      .send(`<!doctype html><meta charset="utf-8"><meta name="robots" content="noindex"><title>${esc(title)}</title><h1>${esc(title)}</h1>${body}`);
  const refusal = (reply: FastifyReply, e: unknown) => {
    if (e instanceof ApiError && e.code.startsWith('REVIEW_LINK_')) return page(reply, e.code === 'REVIEW_LINK_INVALID' ? 403 : e.code === 'REVIEW_LINK_EXPIRED' ? 410 : 409, 'This review link cannot be used', `<p>${esc(e.message)}</p>`);
    throw e;
  };

  app.get<{ Params: { token: string } }>('/review/:token', { config: { auth: 'public' }, schema: { hide: true } }, async (req, reply) => {
    try {
      const { link, problem } = await openReviewLink(ctx.db, req.params.token, ctx.clock.now());
      if (problem === 'used') throw new ApiError('REVIEW_LINK_USED', `this post was already ${link.decision} with this link`);
      if (problem === 'expired') throw new ApiError('REVIEW_LINK_EXPIRED', 'this review link has expired; ask for a new one');
      const post = (await getPost(ctx.db, link.workspace_id, link.post_id))!;
      const pubs = await getPublicationsOfPosts(ctx.db, link.workspace_id, [post.id]);
      const media = await Promise.all(post.media.map(async (m) => ({ alt: m.alt_text ?? '', url: await publicMediaUrl(ctx, link.workspace_id, m.media_id, null).catch(() => null) })));
      const sections = [...new Set(pubs.map((p) => p.platform))].map((platform) => `<section><h2>${esc(platform)}</h2><p style="white-space:pre-wrap">${esc(effectiveText(post, platform))}</p></section>`).join('');
      const files = media.map((m) => (m.url ? `<figure><img src="${esc(m.url)}" alt="${esc(m.alt)}" style="max-width:320px"><figcaption>${esc(m.alt)}</figcaption></figure>` : `<p>[file] ${esc(m.alt)}</p>`)).join('');
      const when = post.scheduled_at ? `<p>Scheduled for ${esc(post.scheduled_at.toISOString())}</p>` : '';
      const form = post.status === 'pending_approval'
        ? `<form method="post"><label>Reason (for a rejection) <input name="reason" maxlength="2000"></label> <button name="decision" value="approved">Approve</button> <button name="decision" value="rejected">Reject</button></form>`
        : `<p>This post is ${esc(post.status)}: there is nothing to decide.</p>`;
      return page(reply, 200, 'Review this post', `${when}${sections}${files}${form}`);
    } catch (e) {
      return refusal(reply, e);
    }
  });

  // The reviewer's browser posts an HTML form.
  app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))));
    scope.post<{ Params: { token: string }; Body: { decision?: string; reason?: string } }>('/review/:token', { config: { auth: 'public' }, schema: { hide: true } }, async (req, reply) => {
      const { decision, reason } = (req.body ?? {}) as { decision?: string; reason?: string };
      if (decision !== 'approved' && decision !== 'rejected') return page(reply, 400, 'Choose approve or reject', '<p>The form did not say which.</p>');
      if (decision === 'rejected' && !reason?.trim()) return page(reply, 400, 'Say why', '<p>A rejection needs a reason.</p>');
      try {
        await withTransaction(ctx.db, (tx) => decideByLink(tx, req.params.token, decision, reason?.trim() || undefined, ctx.clock.now(), wake()));
        return page(reply, 200, decision === 'approved' ? 'Approved' : 'Rejected', '<p>Thank you. Your decision is recorded; this link is now used.</p>');
      } catch (e) {
        if (e instanceof ApiError && e.code === 'POST_NOT_PENDING_APPROVAL') return page(reply, 409, 'Nothing to decide', `<p>${esc(e.message)}</p>`);
        return refusal(reply, e);
      }
    });
  });
}
