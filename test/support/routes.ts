// The routes the API source registers, read from the files, so a route added without tests is noticed.
import { readdir, readFile } from 'node:fs/promises';

/**
 * Every route registered in src/http/app.ts and src/http/routes/*.ts (`app.get('/path', …)` and friends),
 * as "METHOD /path/{param}", read from the source so that a route hidden from OpenAPI counts too.
 */
export async function registeredRoutes(): Promise<string[]> {
  const dir = new URL('../../src/http/', import.meta.url);
  const files = ['app.ts', ...(await readdir(new URL('routes/', dir))).filter((f) => f.endsWith('.ts')).map((f) => `routes/${f}`)];
  const routes: string[] = [];
  for (const file of files) {
    const source = await readFile(new URL(file, dir), 'utf8');
    for (const m of source.matchAll(/\b(?:app|scope)\.(get|post|put|patch|delete)\s*(?:<[\s\S]*?>)?\(\s*'([^']+)'/g)) {
      routes.push(`${m[1]!.toUpperCase()} ${m[2]!.replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return routes.sort();
}
