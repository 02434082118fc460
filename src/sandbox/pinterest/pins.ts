// Pins: POST /v5/pins with each media_source Crier uses (image_url, image_base64, multiple_image_urls,
// multiple_image_base64, video_id), GET /v5/pins/{pin_id}, and a board's pins (GET /v5/boards/{id}/pins,
// newest first, paged with `bookmark`). What is refused: unknown fields, a board that does not exist or is
// not the user's, a section not on that board, the field lengths of the OpenAPI (title 100, description
// 800, link 2048, alt_text 500), an image that cannot be fetched or decoded, a carousel outside 2–5 items,
// a video that is not (yet) processed or belongs to someone else or is used already, and a video pin
// without a cover. Not reproduced: pin_url sources, product tags, and Pinterest's spam checks.
import type { FastifyInstance } from 'fastify';
import { decodeBase64, fetchImage, type Picture } from './images.js';
import type { PinterestSimState } from './simulator.js';
import { invalid, mediaStatus, notFound, pinError, pinId, pinJson, type SimPin } from './state.js';

const FIELDS = ['link', 'title', 'description', 'dominant_color', 'alt_text', 'board_id', 'board_section_id', 'media_source', 'parent_pin_id', 'note'];
const LENGTHS: Record<string, number> = { title: 100, description: 800, link: 2048, alt_text: 500, note: 500 };
const COVER_MISSING = 'Missing cover image. Please provide cover_image_url or cover_image_content_type and cover_image_data, or cover_image_key_frame_time.';

export function pinRoutes(app: FastifyInstance, state: PinterestSimState): void {
  app.post('/v5/pins', { config: { operation: 'pins/create' }, bodyLimit: 64 * 1024 * 1024 }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, ['boards:read', 'pins:write'], 'write');
    if (!grant) return reply;
    const b = req.body as Record<string, unknown> | undefined;
    if (!b || typeof b !== 'object' || Array.isArray(b)) return invalid(reply, 'Invalid request body: expected a JSON object.');
    const unknown = Object.keys(b).filter((k) => !FIELDS.includes(k));
    if (unknown.length > 0) return invalid(reply, `Invalid parameters: ${unknown.join(', ')} is not a valid field.`);
    for (const [field, max] of Object.entries(LENGTHS)) {
      const v = b[field];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string') return invalid(reply, `${field} must be a string.`);
      if ([...v].length > max) return invalid(reply, `${field} is too long: at most ${max} characters.`);
    }
    if (typeof b['link'] === 'string' && !/^https?:\/\/\S+$/i.test(b['link'])) return invalid(reply, 'link must be a valid http(s) URL.');
    if (b['dominant_color'] != null && (typeof b['dominant_color'] !== 'string' || !/^#[0-9a-fA-F]{6}$/.test(b['dominant_color']))) return invalid(reply, 'dominant_color must be a hex color such as #6E7874.');
    if (typeof b['board_id'] !== 'string' || !b['board_id']) return invalid(reply, 'board_id is required.');
    const board = state.boards.get(b['board_id']);
    if (!board) return notFound(reply, 'Board');
    if (board.ownerId !== grant.user.id) return pinError(reply, 403, 3, 'Not authorized to create a Pin on this board.');
    if (board.privacy === 'SECRET' && !grant.scopes.includes('pins:write_secret')) return pinError(reply, 403, 3, 'Creating a Pin on a secret board needs the pins:write_secret scope.');
    const section = b['board_section_id'];
    if (section != null && (typeof section !== 'string' || !board.sections.some((s) => s.id === section))) return notFound(reply, 'Board section');
    const source = b['media_source'] as Record<string, unknown> | undefined;
    if (!source || typeof source !== 'object') return invalid(reply, 'media_source is required.');

    const pin: SimPin = {
      id: pinId(),
      ownerId: grant.user.id,
      boardId: board.id,
      boardSectionId: (section as string | undefined) ?? null,
      title: (b['title'] as string | undefined) ?? null,
      description: (b['description'] as string | undefined) ?? null,
      link: (b['link'] as string | undefined) ?? null,
      altText: (b['alt_text'] as string | undefined) ?? null,
      dominantColor: (b['dominant_color'] as string | undefined) ?? null,
      note: (b['note'] as string | undefined) ?? null,
      createdAt: new Date().toISOString().replace(/\.\d{3}Z$/, ''),
      mediaType: 'image',
      images: [],
    };
    const { imageMaxBytes: max, pullTimeoutMs: timeout } = state.config;
    const take = (pic: Picture, from: string) => (pic.ok ? void pin.images.push({ source: from, mimeType: pic.mimeType, width: pic.width, height: pic.height, bytes: pic.bytes }) : pic.message);
    switch (source['source_type']) {
      case 'image_url': {
        if (typeof source['url'] !== 'string') return invalid(reply, 'media_source.url is required.');
        const problem = take(await fetchImage(source['url'], max, timeout), source['url']);
        if (problem) return invalid(reply, problem);
        break;
      }
      case 'image_base64': {
        const problem = take(await decodeBase64(source['content_type'], source['data'], max), 'base64');
        if (problem) return invalid(reply, problem);
        break;
      }
      case 'multiple_image_urls':
      case 'multiple_image_base64': {
        const items = source['items'];
        if (!Array.isArray(items) || items.length < 2 || items.length > 5) return invalid(reply, 'media_source.items must have between 2 and 5 images.');
        for (const [i, item] of (items as Record<string, unknown>[]).entries()) {
          const pic = source['source_type'] === 'multiple_image_urls'
            ? typeof item?.['url'] === 'string' ? await fetchImage(item['url'], max, timeout) : ({ ok: false, message: 'url is required.' } as const)
            : await decodeBase64(item?.['content_type'], item?.['data'], max);
          const problem = take(pic, typeof item?.['url'] === 'string' ? item['url'] : 'base64');
          if (problem) return invalid(reply, `media_source.items[${i}]: ${problem}`);
        }
        pin.mediaType = 'multiple_images';
        break;
      }
      case 'video_id': {
        const m = typeof source['media_id'] === 'string' ? state.media.get(source['media_id']) : undefined;
        if (!m || m.ownerId !== grant.user.id) return notFound(reply, 'Media');
        const status = mediaStatus(m);
        if (status !== 'succeeded') return invalid(reply, `Media upload ${m.id} is ${status}; a video Pin needs a media upload that succeeded.`);
        if (m.usedBy) return invalid(reply, `Media upload ${m.id} was already used by Pin ${m.usedBy}.`);
        let cover: string;
        if (typeof source['cover_image_url'] === 'string') {
          const pic = await fetchImage(source['cover_image_url'], max, timeout);
          if (!pic.ok) return invalid(reply, `cover_image_url: ${pic.message}`);
          cover = source['cover_image_url'];
        } else if (source['cover_image_data'] !== undefined || source['cover_image_content_type'] !== undefined) {
          const pic = await decodeBase64(source['cover_image_content_type'], source['cover_image_data'], max);
          if (!pic.ok) return invalid(reply, `cover_image_data: ${pic.message}`);
          cover = 'base64';
        } else if (typeof source['cover_image_key_frame_time'] === 'number' && source['cover_image_key_frame_time'] >= 0) {
          cover = `key_frame:${source['cover_image_key_frame_time']}`;
        } else {
          return invalid(reply, COVER_MISSING);
        }
        m.usedBy = pin.id;
        pin.mediaType = 'video';
        pin.video = { mediaId: m.id, cover };
        break;
      }
      default:
        return invalid(reply, `media_source.source_type ${JSON.stringify(source['source_type'])} is not supported.`);
    }
    state.pins.set(pin.id, pin);
    return reply.code(201).send(pinJson(pin, grant.user.username));
  });

  app.get<{ Params: { pin_id: string } }>('/v5/pins/:pin_id', { config: { operation: 'pins/get' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, ['boards:read', 'pins:read'], 'read');
    if (!grant) return reply;
    const pin = state.pins.get(req.params.pin_id);
    if (!pin || pin.ownerId !== grant.user.id) return notFound(reply, 'Pin');
    return pinJson(pin, grant.user.username);
  });

  app.get<{ Params: { board_id: string }; Querystring: Record<string, string> }>('/v5/boards/:board_id/pins', { config: { operation: 'boards/list_pins' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, ['boards:read', 'pins:read'], 'read');
    if (!grant) return reply;
    const board = state.boards.get(req.params.board_id);
    if (!board || board.ownerId !== grant.user.id) return notFound(reply, 'Board');
    const pins = [...state.pins.values()].filter((p) => p.boardId === board.id).reverse();
    const page = state.page(reply, pins, req.query);
    if (!page) return reply;
    return { items: page.items.map((p) => pinJson(p, grant.user.username)), bookmark: page.bookmark };
  });
}
