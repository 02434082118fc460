// How X words its refusals (platforms.md §1 "Errors", docs x-api/fundamentals/response-codes-and-errors):
// problem JSON with a `type` URI (`https://api.x.com/2/problems/<kind>`, or `about:blank` with the HTTP
// status's title), and for request validation an `errors` list of `{ message }`. Sentences the docs or
// client issues quote are used verbatim; the few marked "unconfirmed" are ours.
import type { FastifyReply } from 'fastify';

const PROBLEMS = 'https://api.x.com/2/problems';

export const DETAIL = {
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  duplicate: 'You are not allowed to create a Tweet with duplicate content.',
  replyTarget: 'You attempted to reply to a Tweet that is deleted or not visible to you.',
  // Unconfirmed wording (the case is real: quoting a post that does not exist is refused).
  quoteTarget: 'You attempted to quote a Post that is deleted or not visible to you.',
  tooLong: 'Your Tweet text is too long. For more information on how Twitter determines text length see https://github.com/twitter/twitter-text.',
  mediaIds: 'Your media IDs are invalid.',
  segmentsTotal: 'Segments do not add up to provided total file size.',
  unsupportedMedia: 'Invalid or Unsupported media, Reason: UnsupportedMedia.',
} as const;

export type Problem = { status: number; body: Record<string, unknown> };

/** `about:blank` problems: the title is the HTTP status's name. */
export function blank(status: number, title: string, detail: string): Problem {
  return { status, body: { title, type: 'about:blank', status, detail } };
}

/** Schema and parameter failures: 400 with each failure in `errors`. */
export function invalidRequest(...messages: string[]): Problem {
  return {
    status: 400,
    body: {
      errors: messages.map((message) => ({ parameters: {}, message })),
      title: 'Invalid Request',
      detail: 'One or more parameters to your request was invalid.',
      type: `${PROBLEMS}/invalid-request`,
    },
  };
}

export function notFound(resourceType: string, id: string, parameter: string): Problem {
  return {
    status: 404,
    body: { value: id, detail: `Could not find ${resourceType} with ${parameter}: [${id}].`, title: 'Not Found Error', resource_type: resourceType, parameter, resource_id: id, type: `${PROBLEMS}/resource-not-found` },
  };
}

export const unauthorized = () => blank(401, 'Unauthorized', DETAIL.unauthorized);
export const forbidden = (detail: string = DETAIL.forbidden) => blank(403, 'Forbidden', detail);
export const tooManyRequests = () => blank(429, 'Too Many Requests', 'Too Many Requests');

export function serverError(status: number): Problem {
  const titles: Record<number, string> = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };
  const title = titles[status] ?? 'Internal Server Error';
  return status === 500
    ? { status, body: { title: 'Internal Error', detail: 'Internal Error', type: `${PROBLEMS}/internal-error`, status } }
    : blank(status, title, title);
}

export function send(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type('application/problem+json').send(p.body);
}
