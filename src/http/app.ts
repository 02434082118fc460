// The API server: Fastify with TypeBox schemas that validate requests, serialize responses and generate the
// OpenAPI 3.1 document. Every response carries X-Request-Id; authenticated ones carry rate-limit headers.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import sjson from 'secure-json-parse';
import type { AppContext } from '../context.js';
import { bodyAjv, paramsAjv } from '../lib/ajv.js';
import { newId } from '../lib/ids.js';
import { createKeyVerifier, installAuth, type KeyVerifier } from './auth.js';
import { ApiError, clientError, frameworkError, installErrorHandling, type ErrorDetail } from './errors.js';
import { SHARED_SCHEMAS, errorResponses } from './schemas.js';
import { registerHealthRoutes, type Health } from './routes/health.js';
import { registerWorkspaceRoutes } from './routes/workspaces.js';
import { registerAccountRoutes } from './routes/accounts.js';
import { registerPostRoutes } from './routes/posts.js';
import { registerPostActionRoutes } from './routes/post-actions.js';
import { registerMediaRoutes } from './routes/media.js';
import { registerConnectionRoutes } from './routes/connections.js';
import { registerAppRoutes } from './routes/apps.js';
import { registerProviderRoutes } from './routes/providers.js';
import { registerLookupRoutes } from './routes/lookups.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { registerEventRoutes } from './routes/events.js';
import { registerQueueRoutes } from './routes/queues.js';
import { registerApprovalRoutes } from './routes/approval.js';
import { registerCalendarRoutes } from './routes/calendar.js';
import { openApiWebhooks } from '../webhooks/catalog.js';

export type RouteDeps = { ctx: AppContext; keyVerifier: KeyVerifier };

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
export const API_VERSION = '0.1.0';

export async function buildApi(ctx: AppContext, opts: { health: Health; mountSandbox?: (app: FastifyInstance) => Promise<void> }): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    bodyLimit: ctx.config.bodyLimitBytes,
    // A client's own X-Request-Id is kept when it is a plain token; otherwise we mint one.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : newId('request');
    },
    requestIdHeader: false,
    // Requests are logged once, on response, by our own hook.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    frameworkErrors: frameworkError,
    clientErrorHandler: clientError,
  });

  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : paramsAjv).compile(schema));
  app.removeAllContentTypeParsers(); // JSON only: anything else is a 415, not a guess
  // An empty body is "no body" (curl -X POST with a JSON content type); a broken one is MALFORMED_JSON.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    let value: unknown;
    try {
      value = sjson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' });
    } catch {
      return done(new ApiError('MALFORMED_JSON', 'the body is not valid JSON'), undefined);
    }
    const problem = unstorableJson(value, 'body', 0);
    if (problem) return done(new ApiError('VALIDATION_FAILED', `${problem['field']}: ${problem.message}`, [problem]), undefined);
    done(null, value);
  });
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    const level = reply.statusCode >= 500 ? 'error' : 'info';
    req.log[level]({ method: req.method, route: req.routeOptions.url ?? req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  installErrorHandling(app);

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Crier API',
        version: API_VERSION,
        description: 'Publish one post to many social accounts and get each network\'s outcome. Errors: docs/errors.md.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'crier_sk_… (workspace) or crier_admin_… (operator)' } } },
      // The plugin's types describe webhooks with OpenAPI 3.0 objects; these are valid 3.1 path items.
      webhooks: openApiWebhooks() as never,
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String((json as { $id?: string }).$id ?? `def-${i}`) },
    transform: ({ schema, url, route }) => {
      const hidden = url.startsWith('/sandbox') || url.startsWith('/v1/reference');
      const authenticated = Boolean(route.config?.auth && route.config.auth !== 'public');
      const security = authenticated ? [{ apiKey: [] }] : undefined;
      // Errors every call of its kind can get, documented whether or not the route lists them: a key can be
      // refused or rate-limited on any authenticated route, a body can be malformed, too large or not JSON.
      const implied = [...(authenticated ? [401, 403, 429] : []), ...(schema?.body ? [400, 413, 415] : [])];
      const response = schema?.response && implied.length > 0 ? { ...errorResponses(...implied), ...(schema.response as object) } : undefined;
      return { schema: { ...schema, hide: hidden || schema?.hide, ...(security ? { security } : {}), ...(response ? { response } : {}) } as typeof schema, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/v1/reference', staticCSP: true });

  const keyVerifier = createKeyVerifier(ctx.db);
  installAuth(app, keyVerifier);
  await app.register(rateLimit, {
    global: true,
    max: ctx.config.rateLimitPerMinute,
    timeWindow: 60_000,
    hook: 'onRequest',
    // Only authenticated calls are limited, per API key.
    allowList: (req) => !req.principal,
    keyGenerator: (req) => req.principal?.keyId ?? req.ip,
    ...(ctx.config.redisUrl ? { redis: await redisClient(ctx.config.redisUrl), nameSpace: 'crier-rl:' } : {}),
    errorResponseBuilder: (_req, c) => new ApiError('RATE_LIMITED', `rate limit of ${c.max} requests per minute reached; retry in ${Math.ceil(c.ttl / 1000)} s`),
  });

  const deps: RouteDeps = { ctx, keyVerifier };
  app.get('/v1/openapi.json', { schema: { hide: true }, config: { auth: 'public' } }, async () => app.swagger());
  registerHealthRoutes(app, ctx, opts.health);
  registerWorkspaceRoutes(app, deps);
  registerAccountRoutes(app, deps);
  registerPostRoutes(app, deps);
  registerPostActionRoutes(app, deps);
  registerMediaRoutes(app, deps);
  registerConnectionRoutes(app, deps);
  registerAppRoutes(app, deps);
  registerProviderRoutes(app, deps);
  registerLookupRoutes(app, deps);
  registerWebhookRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerQueueRoutes(app, deps);
  registerApprovalRoutes(app, deps);
  registerCalendarRoutes(app, deps);
  if (opts.mountSandbox) await app.register(opts.mountSandbox, { prefix: '/sandbox' });
  return app;
}

const MAX_JSON_DEPTH = 32;
// An unpaired UTF-16 surrogate: valid as a JSON escape, but not Unicode text.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * JSON that parses but that Crier cannot take: strings PostgreSQL refuses to store (NUL in text, unpaired
 * surrogates in jsonb) and nesting deep enough to overflow the stack of recursive code (the idempotency
 * hash). Refused up front as a 400 rather than failing later as a 500. The walk stops at MAX_JSON_DEPTH.
 */
function unstorableJson(value: unknown, field: string, depth: number): ErrorDetail | undefined {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return { field, message: 'contains a NUL character (\\u0000)' };
    if (LONE_SURROGATE.test(value)) return { field, message: 'contains an unpaired UTF-16 surrogate' };
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_JSON_DEPTH) return { field, message: `nests deeper than ${MAX_JSON_DEPTH} levels` };
  for (const [key, item] of Object.entries(value)) {
    const problem = unstorableJson(key, `${field}.${key}`, depth) ?? unstorableJson(item, `${field}.${key}`, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

async function redisClient(url: string) {
  const { Redis } = await import('ioredis');
  return new Redis(url, { connectTimeout: 1000, maxRetriesPerRequest: 1, lazyConnect: false });
}
