import { UsageError } from '../output/cli-errors.js';

/**
 * Names a new service needs: the service name itself (registry, queue and schema paths),
 * and identifiers derived from it. Restricted to lower-case words and dashes so the
 * same name is a valid npm package, Docker image, Python module and queue segment.
 */
export const NEW_SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export interface TemplateNames {
  /** `order-history`: service name, directory, schema domain. */
  service: string;
  /** `OrderHistory`: in `createOrderHistoryService`. */
  pascal: string;
  /** `order_history`: Python identifiers. */
  snake: string;
  /** Base of the schema ids: `https://schemas.switchyard.dev/order-history/order-history`. */
  schemaBase: string;
}

export function templateNames(service: string): TemplateNames {
  if (!NEW_SERVICE_NAME.test(service) || service.endsWith('-') || service.includes('--')) {
    throw new UsageError(
      `service name must be lower-case words separated by single dashes (e.g. order-history), got ${JSON.stringify(service)}`,
    );
  }
  const words = service.split('-');
  return {
    service,
    pascal: words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join(''),
    snake: words.join('_'),
    schemaBase: `https://schemas.switchyard.dev/${service}/${service}`,
  };
}

/** The `greet` method's schemas, shared by every template (docs/schemas.md conventions). */
export function greetSchemaFiles(n: TemplateNames): Record<string, string> {
  const request = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `${n.schemaBase}.greet.request.json`,
    title: `${n.service}.greet request`,
    type: 'object',
    properties: { name: { type: 'string', minLength: 1, maxLength: 100, description: 'who to greet' } },
    required: ['name'],
    additionalProperties: false,
  };
  const response = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `${n.schemaBase}.greet.response.json`,
    title: `${n.service}.greet response`,
    type: 'object',
    properties: { message: { type: 'string' } },
    required: ['message'],
    additionalProperties: false,
  };
  return {
    [`schemas/${n.service}/${n.service}.greet.request.json`]: `${JSON.stringify(request, null, 2)}\n`,
    [`schemas/${n.service}/${n.service}.greet.response.json`]: `${JSON.stringify(response, null, 2)}\n`,
  };
}
