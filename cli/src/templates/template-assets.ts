import { readFileSync } from 'node:fs';
import { InternalError } from '@switchyard/broker';
import type { TemplateNames } from './template-names.js';

/**
 * `cli/templates/`, the template files shipped with the package ("files" in
 * cli/package.json). Relative to this module, which sits at the same depth in `src/` (run
 * from the sources) and `dist/` (the published package).
 */
const TEMPLATES = new URL('../../templates/', import.meta.url);

/** `{{service}}`, `{{schemaBase}}`, ...: a key of TemplateNames between double braces. */
export const PLACEHOLDER = /\{\{(\w+)\}\}/g;

/** A template file's text, by its path under `cli/templates/` (read when a project is generated, not at load). */
export function readTemplate(path: string): string {
  return readFileSync(new URL(path, TEMPLATES), 'utf8');
}

/** Replace every placeholder with its name; one that names no TemplateNames key is a bug in the template. */
export function fillTemplate(text: string, names: TemplateNames): string {
  return text.replace(PLACEHOLDER, (whole, key: string) => {
    if (!Object.hasOwn(names, key)) {
      throw new InternalError(`template placeholder ${whole} is not one of ${Object.keys(names).join(', ')}`);
    }
    return names[key as keyof TemplateNames];
  });
}
