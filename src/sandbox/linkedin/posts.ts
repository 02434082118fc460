// POST /rest/posts as the LinkedIn simulator checks it (platforms.md §2 "Publishing"; Posts API docs):
// Rest.li's schema errors ("ERROR :: /field :: …", 422), who may post as the author (403), the content
// variants (one image, video or document as `media`; 2–20 images as `multiImage`; an `article`) whose
// assets must belong to the author and be AVAILABLE, the commentary's length as seen (little text rendered),
// and LinkedIn's duplicate refusal (422 "Content is a duplicate of urn:li:share:N").
// The simulator's own wording (LinkedIn's exact answers unknown): assets not ready or of another owner,
// a document without a title, a commentary over the limit.
import type { LiError } from './rest.js';
import { renderLittle } from './rest.js';
import { statusOf, type LinkedInSimLimits, type SimAsset } from './uploads.js';

export type SimPost = {
  id: string;
  author: string;
  commentary: string;
  visibility: string;
  distribution: Record<string, unknown>;
  content?: Record<string, unknown>;
  lifecycleState: string;
  isReshareDisabledByAuthor: boolean;
  createdAt: number;
  lastModifiedAt: number;
  publishedAt?: number;
  /** What readers see (the commentary rendered; cut short at a stray reserved character, as LinkedIn does). */
  text: string;
};

const FIELDS = ['author', 'commentary', 'visibility', 'distribution', 'content', 'lifecycleState', 'isReshareDisabledByAuthor', 'contentLandingPage', 'contentCallToActionLabel', 'reshareContext', 'adContext'];
const VISIBILITY = ['PUBLIC', 'CONNECTIONS', 'LOGGED_IN', 'CONTAINER'];
const FEED = ['MAIN_FEED', 'NONE'];
const LIFECYCLE = ['PUBLISHED', 'DRAFT'];

const schema = (path: string, problem: string): LiError => ({ status: 422, message: `ERROR :: ${path} :: ${problem}` });
const required = (path: string) => schema(path, 'field is required but not found and has no default value');

export const AUTHOR = /^urn:li:(person|organization):[^:\s]+$/;

/** Shape of the request, before permissions are looked at. */
export function checkShape(body: unknown): LiError | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { status: 400, message: 'The request body must be a JSON object' };
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).find((k) => !FIELDS.includes(k));
  if (unknown) return schema(`/${unknown}`, 'unrecognized field found but not allowed');
  if (b['author'] === undefined) return required('/author');
  if (typeof b['author'] !== 'string' || !AUTHOR.test(b['author'])) return schema('/author', `"${String(b['author'])}" is not a valid person or organization URN`);
  if (b['lifecycleState'] === undefined) return required('/lifecycleState');
  if (!LIFECYCLE.includes(b['lifecycleState'] as string)) return schema('/lifecycleState', `"${String(b['lifecycleState'])}" is not an enum symbol`);
  if (b['visibility'] === undefined) return required('/visibility');
  if (!VISIBILITY.includes(b['visibility'] as string)) return schema('/visibility', `"${String(b['visibility'])}" is not an enum symbol`);
  if ((b['author'] as string).startsWith('urn:li:organization:') && b['visibility'] === 'CONNECTIONS') return schema('/visibility', 'CONNECTIONS is allowed for member authors only');
  const d = b['distribution'] as Record<string, unknown> | undefined;
  if (d === undefined) return required('/distribution');
  if (!d || typeof d !== 'object') return schema('/distribution', 'must be a record');
  if (d['feedDistribution'] === undefined) return required('/distribution/feedDistribution');
  if (!FEED.includes(d['feedDistribution'] as string)) return schema('/distribution/feedDistribution', `"${String(d['feedDistribution'])}" is not an enum symbol`);
  for (const k of ['targetEntities', 'thirdPartyDistributionChannels']) {
    if (d[k] !== undefined && !Array.isArray(d[k])) return schema(`/distribution/${k}`, 'must be an array');
  }
  if (b['commentary'] !== undefined && typeof b['commentary'] !== 'string') return schema('/commentary', 'must be a string');
  if (b['isReshareDisabledByAuthor'] !== undefined && typeof b['isReshareDisabledByAuthor'] !== 'boolean') return schema('/isReshareDisabledByAuthor', 'must be a boolean');
  return undefined;
}

function checkAsset(assets: Map<string, SimAsset>, id: unknown, path: string, author: string, kinds: string[]): LiError | undefined {
  if (typeof id !== 'string') return required(`${path}/id`);
  const m = /^urn:li:(image|video|document):[^:\s]+$/.exec(id);
  if (!m || !kinds.includes(m[1]!)) return schema(`${path}/id`, `"${id}" is not a ${kinds.join(' or ')} URN`);
  const a = assets.get(id);
  if (!a) return schema(`${path}/id`, `${id} does not exist`);
  if (a.owner !== author) return { status: 403, serviceErrorCode: 100, code: 'ACCESS_DENIED', message: `${id} is owned by ${a.owner}, not by the post author ${author}` };
  const status = statusOf(a);
  if (status === 'WAITING_UPLOAD') return { status: 400, message: `${id} was never uploaded` };
  if (status === 'PROCESSING') return { status: 400, message: `${id} is still processing; create the post once its status is AVAILABLE` };
  if (status === 'PROCESSING_FAILED') return { status: 400, message: `${id} failed processing: ${a.processingFailureReason ?? 'unknown reason'}` };
  return undefined;
}

/** The content variants and their assets. */
export function checkContent(content: unknown, author: string, assets: Map<string, SimAsset>): LiError | undefined {
  if (content === undefined) return undefined;
  if (!content || typeof content !== 'object' || Array.isArray(content)) return schema('/content', 'must be a record');
  const keys = Object.keys(content);
  if (keys.length !== 1) return schema('/content', `must hold exactly one of media, multiImage, article (got ${keys.join(', ') || 'none'})`);
  const c = content as Record<string, Record<string, unknown>>;
  if (c['media']) {
    const kind = /^urn:li:(\w+):/.exec(String(c['media']['id']))?.[1];
    if (kind === 'document' && typeof c['media']['title'] !== 'string') return required('/content/media/title');
    return checkAsset(assets, c['media']['id'], '/content/media', author, ['image', 'video', 'document']);
  }
  if (c['multiImage']) {
    const images = c['multiImage']['images'];
    if (!Array.isArray(images)) return required('/content/multiImage/images');
    if (images.length < 2 || images.length > 20) return schema('/content/multiImage/images', `must have 2 to 20 images (got ${images.length})`);
    for (const [i, img] of (images as Record<string, unknown>[]).entries()) {
      const problem = checkAsset(assets, img?.['id'], `/content/multiImage/images/${i}`, author, ['image']);
      if (problem) return problem;
    }
    return undefined;
  }
  if (c['article']) {
    if (typeof c['article']['source'] !== 'string' || !/^https?:\/\//.test(c['article']['source'])) return required('/content/article/source');
    return undefined;
  }
  return schema(`/content/${keys[0]}`, 'unrecognized field found but not allowed');
}

/** The commentary: present unless there is content, and not over the limit as seen. */
export function checkCommentary(b: Record<string, unknown>, limits: LinkedInSimLimits): LiError | { text: string } {
  const commentary = (b['commentary'] as string | undefined) ?? '';
  if (commentary.trim() === '' && b['content'] === undefined) return required('/commentary');
  const { text } = renderLittle(commentary);
  const length = [...text].length;
  if (length > limits.commentaryMaxChars) return schema('/commentary', `length ${length} exceeds the maximum of ${limits.commentaryMaxChars}`);
  return { text };
}

/** LinkedIn refuses the same commentary from the same author again and names the first post. */
export function duplicateOf(posts: Iterable<SimPost>, author: string, commentary: string): LiError | undefined {
  if (commentary.trim() === '') return undefined;
  for (const p of posts) {
    if (p.author === author && p.commentary === commentary) return { status: 422, message: `Content is a duplicate of ${p.id}` };
  }
  return undefined;
}

export function postView(p: SimPost): Record<string, unknown> {
  const { text: _text, ...view } = p;
  return { ...view, lifecycleStateInfo: { isEditedByAuthor: false } };
}
