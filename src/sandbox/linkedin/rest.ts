// What every call to the LinkedIn simulator's versioned API (/rest) goes through, as LinkedIn does it:
// the LinkedIn-Version header (YYYYMM or YYYYMM.RR; a version older than a year, or not out yet, answers
// 426 NONEXISTENT_VERSION "Requested version 20250101 is not active", as users of retired versions report),
// the X-Restli-Protocol-Version 2.0.0 header the docs require on every call, and the Bearer token, whose
// refusals carry LinkedIn's 401 bodies (platforms.md §2 "Token errors"). Errors are LinkedIn's
// {"status","serviceErrorCode","code","message"}.
// Wording of the simulator's own (not quoted from LinkedIn): a missing protocol header, a malformed version.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SimGrant, SimOAuth } from '../oauth.js';

export type LiError = { status: number; serviceErrorCode?: number; code?: string; message: string };

export function liError(reply: FastifyReply, e: LiError) {
  return reply.code(e.status).send(e);
}

export const TOKEN_ERRORS = {
  missing: { status: 401, serviceErrorCode: 65604, code: 'EMPTY_ACCESS_TOKEN', message: 'Empty oauth2_access_token' },
  invalid: { status: 401, serviceErrorCode: 65600, code: 'INVALID_ACCESS_TOKEN', message: 'Invalid access token' },
  expired: { status: 401, serviceErrorCode: 65602, code: 'EXPIRED_ACCESS_TOKEN', message: 'The token used in the request has expired' },
  revoked: { status: 401, serviceErrorCode: 65601, code: 'REVOKED_ACCESS_TOKEN', message: 'The token used in the request has been revoked by the user' },
} satisfies Record<string, LiError>;

export const accessDenied = (what: string): LiError => ({ status: 403, serviceErrorCode: 100, code: 'ACCESS_DENIED', message: `Not enough permissions to access: ${what}` });

/** How many months back a version stays active (LinkedIn: "at least one year"). */
const ACTIVE_MONTHS = 12;

/** The version header's answer, or undefined when the version is active. */
export function versionProblem(header: string | undefined, now: Date): LiError | undefined {
  if (!header) {
    return { status: 400, code: 'VERSION_MISSING', message: 'A version must be present. Please specify a version by adding the LinkedIn-Version header.' };
  }
  const m = /^(\d{4})(\d{2})(?:\.(\d{2}))?$/.exec(header.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) return { status: 400, code: 'INVALID_VERSION', message: `Invalid LinkedIn-Version header: ${header}` };
  const asked = Number(m[1]) * 12 + Number(m[2]) - 1;
  const current = now.getUTCFullYear() * 12 + now.getUTCMonth();
  if (asked > current || asked <= current - ACTIVE_MONTHS) {
    return { status: 426, code: 'NONEXISTENT_VERSION', message: `Requested version ${m[1]}${m[2]}${m[3] ?? '01'} is not active` };
  }
  return undefined;
}

export type Caller = { personId: string; person: string; grant: SimGrant; scopes: Set<string> };

/**
 * Checks the headers and the token of a call; answers it itself (and returns undefined) when one is wrong.
 * `versioned` is false for the unversioned endpoints (/v2/userinfo).
 */
export async function caller(req: FastifyRequest, reply: FastifyReply, oauth: SimOAuth, versioned = true): Promise<Caller | undefined> {
  if (versioned) {
    const problem = versionProblem(req.headers['linkedin-version'] as string | undefined, new Date());
    if (problem) return void liError(reply, problem);
    if (req.headers['x-restli-protocol-version'] !== '2.0.0') {
      return void liError(reply, { status: 400, message: 'This API requires the header X-Restli-Protocol-Version: 2.0.0' });
    }
  }
  const check = await oauth.verify(req.headers.authorization);
  if (!check.ok) return void liError(reply, TOKEN_ERRORS[check.reason]);
  const personId = check.grant.user.id;
  return { personId, person: `urn:li:person:${personId}`, grant: check.grant, scopes: new Set(check.grant.scopes) };
}

/**
 * Little text as a reader sees it. `\x` is x; `@[Name](urn)` shows Name; `{hashtag|#|tag}` and `#tag` show
 * #tag. LinkedIn answers no error for a reserved character that starts no element: developers report the
 * post cut short there, which is what this does (`cut` says where).
 */
export function renderLittle(commentary: string): { text: string; cut?: number } {
  let out = '';
  let i = 0;
  const reserved = '\\|{}@[]()<>#*_~';
  const readEscaped = (from: number, stop: string): { value: string; end: number } | undefined => {
    let value = '';
    for (let j = from; j < commentary.length; j++) {
      const c = commentary[j]!;
      if (c === '\\' && j + 1 < commentary.length) value += commentary[++j];
      else if (c === stop) return { value, end: j };
      else if (reserved.includes(c)) return undefined;
      else value += c;
    }
    return undefined;
  };
  while (i < commentary.length) {
    const c = commentary[i]!;
    if (c === '\\' && i + 1 < commentary.length) {
      out += commentary[i + 1];
      i += 2;
      continue;
    }
    if (!reserved.includes(c)) {
      out += c;
      i++;
      continue;
    }
    if (c === '@' && commentary[i + 1] === '[') {
      const name = readEscaped(i + 2, ']');
      const urn = name && commentary[name.end + 1] === '(' ? /^\((urn:li:(?:person|organization):[^)\s]+)\)/.exec(commentary.slice(name.end + 1)) : null;
      if (name && urn) {
        out += name.value;
        i = name.end + 1 + urn[0].length;
        continue;
      }
    }
    if (c === '{') {
      const t = /^\{hashtag\|\\?[#＃]\|/.exec(commentary.slice(i));
      const tag = t ? readEscaped(i + t[0].length, '}') : undefined;
      if (t && tag) {
        out += `#${tag.value}`;
        i = tag.end + 1;
        continue;
      }
    }
    if (c === '#') {
      const tag = /^#[\p{L}\p{N}]+/u.exec(commentary.slice(i));
      if (tag) {
        out += tag[0];
        i += tag[0].length;
        continue;
      }
    }
    return { text: out, cut: i };
  }
  return { text: out };
}
