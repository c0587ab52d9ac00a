/**
 * Requests to the local network from group webhooks (a server-side request forgery guard), as GitLab's
 * "Allow requests to the local network from webhooks" setting: off by default, so a group Owner cannot
 * make Latchkey POST to its own loopback, private or link-local addresses (metadata services, admin
 * ports). Instance hooks (admins) may target the local network, as GitLab's system hooks may.
 *
 * Checked twice: when a hook is registered (an address or `localhost` in the URL), and on every
 * delivery on the address the host name resolves to — inside the connection's own DNS look-up, so a
 * name that changes its answer between check and connect (DNS rebinding) cannot slip through.
 */
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup } from 'node:dns';

const LOCAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 reaches the local host
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const) {
  LOCAL.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
] as const) {
  LOCAL.addSubnet(net, bits, 'ipv6');
}

/** An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) as its IPv4 address; anything else unchanged. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

/** True for loopback, private, link-local, CGNAT and unspecified addresses. */
export function isLocalAddress(address: string): boolean {
  const a = unmapped(address.replace(/^\[|\]$/g, ''));
  const family = isIP(a);
  if (family === 0) return false;
  return LOCAL.check(a, family === 4 ? 'ipv4' : 'ipv6');
}

export const LOCAL_NETWORK_BLOCKED = 'url is blocked: Requests to the local network are not allowed';

/** True when the URL names the local network by itself (an address literal or a `localhost` name). */
export function urlNamesLocalNetwork(url: URL): boolean {
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  return host === 'localhost' || host.endsWith('.localhost') || isLocalAddress(host);
}

/** An error whose code tells the dispatcher the attempt was refused by this guard. */
export class LocalNetworkBlocked extends Error {
  readonly code = 'LOCAL_NETWORK_BLOCKED';
  constructor(address: string) {
    super(`${LOCAL_NETWORK_BLOCKED} (resolved to ${address})`);
  }
}

/** A DNS look-up for `http.request` that fails when any answer is a local address. */
export const lookupOutsideLocalNetwork: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, '', 0);
    const list = addresses as unknown as { address: string; family: number }[];
    const local = list.find((a) => isLocalAddress(a.address));
    if (local) return callback(new LocalNetworkBlocked(local.address), '', 0);
    if (options.all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
    const first = list[0];
    if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
    callback(null, first.address, first.family);
  });
};
