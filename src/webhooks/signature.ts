/**
 * How a delivery is signed: HMAC-SHA256 with the hook's secret over `<timestamp>.<raw body>`, sent as
 * `X-Latchkey-Signature: sha256=<hex>` with the timestamp (Unix seconds) in `X-Latchkey-Timestamp`, so a
 * receiver can refuse a replayed old delivery. The README shows the receiver's side.
 */
import { createHmac } from 'node:crypto';

export function signDelivery(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}
