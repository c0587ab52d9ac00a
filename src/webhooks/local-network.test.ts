import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson } from './http-post.js';
import { isLocalAddress, lookupOutsideLocalNetwork, urlNamesLocalNetwork } from './local-network.js';

describe('local-network guard', () => {
  it('knows loopback, private, link-local, CGNAT and unspecified addresses, also IPv4-mapped', () => {
    for (const a of ['127.0.0.1', '127.255.0.9', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fd12::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '[::1]']) {
      expect(isLocalAddress(a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '172.32.0.1', '172.15.255.255', '192.169.0.1', '100.128.0.1', '2001:db8::1', '::ffff:8.8.8.8', 'example.com', '']) {
      expect(isLocalAddress(a), a).toBe(false);
    }
  });

  it('recognises URLs that name the local network', () => {
    expect(urlNamesLocalNetwork(new URL('http://LOCALHOST./x'))).toBe(true);
    expect(urlNamesLocalNetwork(new URL('http://a.b.localhost:8080/x'))).toBe(true);
    expect(urlNamesLocalNetwork(new URL('http://[::1]/x'))).toBe(true);
    // The URL parser normalises other spellings of an address first.
    expect(urlNamesLocalNetwork(new URL('http://2130706433/x'))).toBe(true);
    expect(urlNamesLocalNetwork(new URL('http://0x7f.1/x'))).toBe(true);
    expect(urlNamesLocalNetwork(new URL('https://hooks.example.com/x'))).toBe(false);
  });

  it('fails a DNS look-up whose answer is local', async () => {
    const error = await new Promise<Error | null>((resolve) => lookupOutsideLocalNetwork('localhost', {}, (e) => resolve(e)));
    expect(error).toMatchObject({ code: 'LOCAL_NETWORK_BLOCKED' });
  });

  describe('postJson', () => {
    let server: Server;
    let port: number;
    let hits = 0;
    beforeAll(async () => {
      server = createServer((req, res) => {
        hits++;
        req.resume();
        req.on('end', () => res.writeHead(202).end('accepted'));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('posts when the local network is allowed', async () => {
      const answer = await postJson(`http://127.0.0.1:${port}/h`, { headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs: 2000, blockLocalNetwork: false, maxBody: 4 });
      expect(answer).toEqual({ status: 202, text: 'acce' });
    });

    it('refuses a local address literal and a name resolving to one, without connecting', async () => {
      const before = hits;
      const opts = { headers: {}, body: '{}', timeoutMs: 2000, blockLocalNetwork: true, maxBody: 100 };
      await expect(postJson(`http://127.0.0.1:${port}/h`, opts)).rejects.toMatchObject({ code: 'LOCAL_NETWORK_BLOCKED' });
      await expect(postJson(`http://localhost:${port}/h`, opts)).rejects.toMatchObject({ code: 'LOCAL_NETWORK_BLOCKED' });
      expect(hits).toBe(before);
    });
  });
});
