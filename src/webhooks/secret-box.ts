/**
 * Webhook signing secrets at rest: the shared secret box (src/kernel/secret-box.ts) under the webhook
 * purpose. The purpose string is frozen: stored hooks were sealed with it.
 */
import { createSecretBox as createPurposeBox, type SecretBox } from '../kernel/secret-box.js';

export type { SecretBox };

export function createSecretBox(serverSecret: string): SecretBox {
  return createPurposeBox(serverSecret, 'webhook signing secret v1');
}
