// Record validation of app.bsky.feed.post the way the reference PDS does it (lexicons app.bsky.feed.post,
// app.bsky.richtext.facet, com.atproto.repo.strongRef; formats from @atproto/syntax; messages worded like its
// lex-schema validator: "Invalid app.bsky.feed.post record: <issue> at $.record.<path>"). Checked against
// @atproto/pds 0.5 (dev-env 0.6.7): it refuses a negative byte offset, a feature without $type, a mention
// whose did is not a DID, a link whose uri is not a URI, a tag over 64 graphemes, a reply without parent or
// with a malformed CID; it ACCEPTS facets whose byte range runs past the text or is reversed, features of
// unknown types (an open union), and replies to posts that do not exist.
// Two checks go further than the real PDS, on purpose, because they catch connector bugs a real server
// would let through silently (a facet that highlights the wrong bytes, a reply that shows as "deleted
// post"): byte ranges must lie inside the text, and a reply's root and parent, when they are records of
// this simulator, must exist with the CID given, and the root must be the parent's own root. Their errors
// say "sandbox check"; switch them off with `strict` to see the real PDS's leniency.
import { graphemeCount, utf8Bytes } from '../../domain/text.js';

export const POST = 'app.bsky.feed.post';

export type Strictness = { facetRanges: boolean; replyTargets: boolean };
export type RecordProblem = { error: string; message: string };
type Lookup = (uri: string) => { cid: string; value: Record<string, unknown> } | undefined | 'not_local';

const invalid = (issue: string, path: string): RecordProblem => ({ error: 'InvalidRequest', message: `Invalid ${POST} record: ${issue} at $.record${path}` });
const sandboxCheck = (issue: string, path: string): RecordProblem => ({ error: 'InvalidRequest', message: `Invalid ${POST} record (sandbox check; a real PDS stores it but Bluesky shows it wrong): ${issue} at $.record${path}` });
const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'undefined' : typeof v === 'object' ? (v === null ? 'null' : Array.isArray(v) ? 'array' : 'object') : String(v));

const DID = /^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$/;
const URI = /^\w+:(?:\/\/)?[^\s/][^\s]*$/;
const AT_URI = /^at:\/\/(did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]|[a-zA-Z0-9.-]+)(\/[a-zA-Z0-9.-]+(\/[a-zA-Z0-9._:~-]{1,512})?)?$/;
const CID = /^(b[a-z2-7]{50,}|Qm[1-9A-HJ-NP-Za-km-z]{44})$/;

/** The record's own fields (text, createdAt, langs), facets and reply, as lexicon validation sees them. */
export function validatePost(record: Record<string, unknown>): RecordProblem | undefined {
  if (record['$type'] !== POST) return { error: 'InvalidRequest', message: `Invalid ${POST} record: Record/$type must be ${POST}` };
  const text = record['text'];
  if (typeof text !== 'string') return { error: 'InvalidRequest', message: `Invalid ${POST} record: Record/text must be a string` };
  const graphemes = graphemeCount(text);
  if (graphemes > 300) return { error: 'InvalidRequest', message: `Invalid ${POST} record: Record/text grapheme too big (maximum 300, got ${graphemes})` };
  if (utf8Bytes(text) > 3000) return { error: 'InvalidRequest', message: `Invalid ${POST} record: Record/text must not be longer than 3000 characters` };
  const createdAt = record['createdAt'];
  if (typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt)) || !/[zZ]|[+-]\d{2}:\d{2}$/.test(createdAt)) {
    return { error: 'InvalidRequest', message: `Invalid ${POST} record: Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)` };
  }
  const langs = record['langs'];
  if (langs !== undefined && (!Array.isArray(langs) || langs.length > 3)) return { error: 'InvalidRequest', message: `Invalid ${POST} record: Record/langs must not have more than 3 elements` };
  return validateFacets(record['facets']) ?? validateReply(record['reply']);
}

function validateFacets(facets: unknown): RecordProblem | undefined {
  if (facets === undefined) return undefined;
  if (!Array.isArray(facets)) return invalid(`Expected array value type (got ${show(facets)})`, '.facets');
  for (const [i, facet] of facets.entries()) {
    const at = `.facets[${i}]`;
    if (!facet || typeof facet !== 'object' || Array.isArray(facet)) return invalid(`Expected object value type (got ${show(facet)})`, at);
    const f = facet as Record<string, unknown>;
    if (f['index'] === undefined) return invalid('Missing required key "index"', at);
    if (f['features'] === undefined) return invalid('Missing required key "features"', at);
    const index = f['index'] as Record<string, unknown>;
    if (!index || typeof index !== 'object') return invalid(`Expected object value type (got ${show(index)})`, `${at}.index`);
    for (const key of ['byteStart', 'byteEnd']) {
      const v = index[key];
      if (v === undefined) return invalid(`Missing required key "${key}"`, `${at}.index`);
      if (!Number.isInteger(v)) return invalid(`Expected integer value type (got ${show(v)})`, `${at}.index.${key}`);
      if ((v as number) < 0) return invalid(`integer too small (minimum 0, got ${String(v)})`, `${at}.index.${key}`);
    }
    if (!Array.isArray(f['features'])) return invalid(`Expected array value type (got ${show(f['features'])})`, `${at}.features`);
    for (const [j, feature] of (f['features'] as unknown[]).entries()) {
      const problem = validateFeature(feature, `${at}.features[${j}]`);
      if (problem) return problem;
    }
  }
  return undefined;
}

function validateFeature(feature: unknown, at: string): RecordProblem | undefined {
  const f = feature as Record<string, unknown> | null;
  if (!f || typeof f !== 'object' || typeof f['$type'] !== 'string') {
    return invalid(`Expected an object which includes the "$type" property value type (got ${show(feature)})`, at);
  }
  const required = (key: string) => (f[key] === undefined ? invalid(`Missing required key "${key}"`, at) : typeof f[key] !== 'string' ? invalid(`Expected string value type (got ${show(f[key])})`, `${at}.${key}`) : undefined);
  switch (f['$type']) {
    case 'app.bsky.richtext.facet#mention':
      return required('did') ?? (DID.test(f['did'] as string) && (f['did'] as string).length <= 2048 ? undefined : invalid(`Invalid DID (got ${show(f['did'])})`, `${at}.did`));
    case 'app.bsky.richtext.facet#link':
      return required('uri') ?? (URI.test(f['uri'] as string) ? undefined : invalid(`Invalid uri (got ${show(f['uri'])})`, `${at}.uri`));
    case 'app.bsky.richtext.facet#tag': {
      const problem = required('tag');
      if (problem) return problem;
      const tag = f['tag'] as string;
      if (utf8Bytes(tag) > 640) return invalid(`string too big (maximum 640, got ${utf8Bytes(tag)})`, `${at}.tag`);
      const graphemes = graphemeCount(tag);
      return graphemes > 64 ? invalid(`grapheme too big (maximum 64, got ${graphemes})`, `${at}.tag`) : undefined;
    }
    default:
      return undefined; // an open union: features of other types are stored as they are
  }
}

function validateStrongRef(ref: unknown, at: string): RecordProblem | undefined {
  if (!ref || typeof ref !== 'object' || Array.isArray(ref)) return invalid(`Expected object value type (got ${show(ref)})`, at);
  const r = ref as Record<string, unknown>;
  if (r['uri'] === undefined) return invalid('Missing required key "uri"', at);
  if (r['cid'] === undefined) return invalid('Missing required key "cid"', at);
  if (typeof r['uri'] !== 'string' || !AT_URI.test(r['uri'])) return invalid(`Invalid at-uri (got ${show(r['uri'])})`, `${at}.uri`);
  if (typeof r['cid'] !== 'string' || !CID.test(r['cid'])) return invalid(`Invalid CID string (got ${show(r['cid'])})`, `${at}.cid`);
  return undefined;
}

function validateReply(reply: unknown): RecordProblem | undefined {
  if (reply === undefined) return undefined;
  if (!reply || typeof reply !== 'object' || Array.isArray(reply)) return invalid(`Expected object value type (got ${show(reply)})`, '.reply');
  const r = reply as Record<string, unknown>;
  if (r['root'] === undefined) return invalid('Missing required key "root"', '.reply');
  if (r['parent'] === undefined) return invalid('Missing required key "parent"', '.reply');
  return validateStrongRef(r['root'], '.reply.root') ?? validateStrongRef(r['parent'], '.reply.parent');
}

/** The simulator's extra checks (see the header); run after lexicon validation passed. */
export function sandboxChecks(record: Record<string, unknown>, strict: Strictness, lookup: Lookup): RecordProblem | undefined {
  if (strict.facetRanges && Array.isArray(record['facets'])) {
    const size = utf8Bytes(record['text'] as string);
    for (const [i, facet] of (record['facets'] as { index: { byteStart: number; byteEnd: number } }[]).entries()) {
      const { byteStart, byteEnd } = facet.index;
      if (byteStart >= byteEnd || byteEnd > size) {
        return sandboxCheck(`facet bytes ${byteStart}..${byteEnd} are not a range inside the text (${size} bytes)`, `.facets[${i}].index`);
      }
    }
  }
  const reply = record['reply'] as { root: { uri: string; cid: string }; parent: { uri: string; cid: string } } | undefined;
  if (strict.replyTargets && reply) {
    for (const key of ['root', 'parent'] as const) {
      const found = lookup(reply[key].uri);
      if (found === 'not_local') continue;
      if (!found) return sandboxCheck(`the post replied to does not exist: ${reply[key].uri}`, `.reply.${key}`);
      if (found.cid !== reply[key].cid) return sandboxCheck(`the CID is not the post's (${found.cid})`, `.reply.${key}.cid`);
    }
    const parent = lookup(reply.parent.uri);
    if (parent && parent !== 'not_local') {
      const parentRoot = (parent.value['reply'] as { root?: { uri?: string } } | undefined)?.root?.uri ?? reply.parent.uri;
      if (parentRoot !== reply.root.uri) return sandboxCheck(`root must be the parent's thread root (${parentRoot})`, '.reply.root');
    }
  }
  return undefined;
}
