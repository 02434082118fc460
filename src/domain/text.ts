// Text length as each platform counts it. Limits come from the connector (data, not code).
/** 'weighted': X's rule (URLs 23, CJK and emoji 2; counted by the connector with twitter-text). */
export type TextCounting = 'graphemes' | 'characters' | 'weighted';

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

export function graphemeCount(text: string): number {
  let n = 0;
  for (const _ of segmenter.segment(text)) n++;
  return n;
}

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
