/**
 * Webhook signing secrets at rest: the shared secret box (src/kernel/secret-box.ts) under the webhook
 * purpose. The purpose string is frozen: stored hooks were sealed with it.
 */
import { createSecretBox as createPurposeBox, type SecretBox, type ServerSecrets } from '../kernel/secret-box.js';

export type { SecretBox };

/** Frozen: stored hooks were sealed with it. */
export const WEBHOOK_SECRET_PURPOSE = 'webhook signing secret v1';

export function createSecretBox(serverSecret: ServerSecrets): SecretBox {
  return createPurposeBox(serverSecret, WEBHOOK_SECRET_PURPOSE);
}
