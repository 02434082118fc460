// What every platform simulator shares: fault injection on demand and a log of the requests it served.
// A simulator is a Fastify plugin; each route names its operation (`config.operation`) so faults can
// target it, and the platform supplies how its own errors look.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';

export type Fault =
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'rate_limit'; retry_after_seconds: number }
  | { kind: 'latency'; ms: number }
  /** The platform performs the operation, then answers only after `ms` (longer than the client waits). */
  | { kind: 'accept_then_timeout'; ms: number }
  | { kind: 'expired_token' };

export type FaultRule = {
  id: number;
  /** Operation name (e.g. "com.atproto.repo.createRecord"); all operations when absent. */
  operation?: string;
  /** Account (platform user id) the fault applies to; all accounts when absent. */
  account?: string;
  /** How many matching requests it applies to; -1 = until cleared. */
  remaining: number;
  fault: Fault;
};

export type RequestLogEntry = { at: string; method: string; operation: string; account?: string; status: number };

export type PlatformErrors = {
  serverError(status: number): { status: number; body: unknown };
  rateLimited(retryAfterSeconds: number): { status: number; body: unknown; headers: Record<string, string> };
  expiredToken(): { status: number; body: unknown };
};

export type SimulatorCore = {
  faults: FaultRule[];
  log: RequestLogEntry[];
  addFault(rule: Omit<FaultRule, 'id' | 'remaining'> & { times?: number }): FaultRule;
  clearFaults(): void;
  takeFault(operation: string, account: string | undefined): Fault | undefined;
};

const LOG_CAP = 50_000;

const faultSchema = Type.Union([
  Type.Object({ kind: Type.Literal('status'), status: Type.Integer({ minimum: 400, maximum: 599 }), body: Type.Optional(Type.Unknown()), headers: Type.Optional(Type.Record(Type.String(), Type.String())) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('rate_limit'), retry_after_seconds: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('latency'), ms: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('accept_then_timeout'), ms: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('expired_token') }, { additionalProperties: false }),
]);

const faultRuleSchema = Type.Object(
  {
    operation: Type.Optional(Type.String()),
    account: Type.Optional(Type.String()),
    times: Type.Optional(Type.Union([Type.Literal(-1), Type.Integer({ minimum: 1 })])),
    fault: faultSchema,
  },
  { additionalProperties: false },
);

export function createSimulatorCore(): SimulatorCore {
  let nextId = 1;
  const core: SimulatorCore = {
    faults: [],
    log: [],
    addFault({ times, ...rule }) {
      const full: FaultRule = { ...rule, id: nextId++, remaining: times ?? 1 };
      core.faults.push(full);
      return full;
    },
    clearFaults() {
      core.faults.length = 0;
    },
    takeFault(operation, account) {
      const rule = core.faults.find(
        (r) => (r.operation === undefined || r.operation === operation) && (r.account === undefined || r.account === account),
      );
      if (!rule) return undefined;
      if (rule.remaining > 0 && --rule.remaining === 0) core.faults.splice(core.faults.indexOf(rule), 1);
      return rule.fault;
    },
  };
  return core;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

declare module 'fastify' {
  interface FastifyContextConfig {
    operation?: string;
  }
  interface FastifyRequest {
    simDelayReply?: number;
  }
}

/**
 * Installs fault injection and request logging on a simulator plugin instance.
 * `accountOf` names the platform user behind a request (for per-account faults and the log).
 */
export function installSimulatorCore(
  app: FastifyInstance,
  core: SimulatorCore,
  errors: PlatformErrors,
  accountOf: (req: FastifyRequest) => string | undefined,
): void {
  app.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
    const operation = req.routeOptions.config.operation;
    if (!operation) return;
    const fault = core.takeFault(operation, accountOf(req));
    if (!fault) return;
    switch (fault.kind) {
      case 'latency':
        await sleep(fault.ms);
        return;
      case 'accept_then_timeout':
        req.simDelayReply = fault.ms;
        return;
      case 'status': {
        const standard = errors.serverError(fault.status);
        return reply.code(fault.status).headers(fault.headers ?? {}).send(fault.body ?? standard.body);
      }
      case 'rate_limit': {
        const r = errors.rateLimited(fault.retry_after_seconds);
        return reply.code(r.status).headers(r.headers).send(r.body);
      }
      case 'expired_token': {
        const r = errors.expiredToken();
        return reply.code(r.status).send(r.body);
      }
    }
  });
  // Logged on send (not on response), so a request whose client gave up waiting is still on record.
  app.addHook('onSend', async (req, reply, payload) => {
    const operation = req.routeOptions.config.operation;
    if (operation) {
      if (core.log.length >= LOG_CAP) core.log.splice(0, core.log.length - LOG_CAP + 1);
      core.log.push({ at: new Date().toISOString(), method: req.method, operation, account: accountOf(req), status: reply.statusCode });
    }
    if (req.simDelayReply) await sleep(req.simDelayReply);
    return payload;
  });

  // The control surface tests and sandbox users drive.
  app.post<{ Body: Omit<FaultRule, 'id' | 'remaining'> & { times?: number } }>('/_sim/faults', { schema: { body: faultRuleSchema } }, async (req, reply) => {
    return reply.code(201).send(core.addFault(req.body));
  });
  app.get('/_sim/faults', async () => ({ faults: core.faults }));
  app.delete('/_sim/faults', async (_req, reply) => {
    core.clearFaults();
    return reply.code(204).send();
  });
  app.get('/_sim/requests', async () => ({ requests: core.log }));
}
