/**
 * One webhook POST over node:http(s): the status and the first bytes of the answer, a hard timeout over
 * the whole exchange, no redirects followed, and — for hooks that may not reach the local network —
 * the local-network guard applied to the address actually connected to.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { isLocalAddress, LocalNetworkBlocked, lookupOutsideLocalNetwork } from './local-network.js';

export interface PostOptions {
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Refuse loopback, private and link-local destinations. */
  blockLocalNetwork: boolean;
  /** How much of the answer to keep. */
  maxBody: number;
  /** Verify the receiver's TLS certificate (default true). */
  verifyTls?: boolean;
}

export interface PostAnswer {
  status: number;
  /** The start of the answer's body (up to `maxBody` characters). */
  text: string;
}

export class PostTimeout extends Error {
  override readonly name = 'TimeoutError';
}

export function postJson(target: string, { headers, body, timeoutMs, blockLocalNetwork, maxBody, verifyTls = true }: PostOptions): Promise<PostAnswer> {
  const url = new URL(target);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // An address literal is connected to without a DNS look-up, so the look-up guard never sees it.
  if (blockLocalNetwork && isIP(host) !== 0 && isLocalAddress(host)) return Promise.reject(new LocalNetworkBlocked(host));
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<PostAnswer>((resolve, reject) => {
    const req = send(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      ...(blockLocalNetwork ? { lookup: lookupOutsideLocalNetwork } : {}),
      ...(url.protocol === 'https:' && !verifyTls ? { rejectUnauthorized: false } : {}),
    });
    const timer = setTimeout(() => req.destroy(new PostTimeout(`timeout after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on('response', (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (text.length < maxBody) text += chunk.slice(0, maxBody - text.length);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    req.end(body);
  });
}
