/**
 * Renders pages: Preact components to an HTML string on the server (preact-render-to-string). Every
 * value in a text node or an attribute is escaped by the renderer; nothing here ever injects raw HTML.
 */
import type { FastifyReply } from 'fastify';
import type { ComponentChildren, VNode } from 'preact';
import { renderToString } from 'preact-render-to-string';
import type { Page } from '../kernel/page.js';
import type { User } from '../namespaces/namespace.js';

export function sendHtml(reply: FastifyReply, node: VNode, status = 200): FastifyReply {
  // Pages hold per-user data, sometimes a new secret: never stored by a cache.
  return reply.status(status).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(`<!DOCTYPE html>${renderToString(node)}`);
}

export type NavKey = 'home' | 'tokens' | 'applications' | 'expiring' | 'audit' | 'inventory' | 'admin' | null;

export interface PageChrome {
  readonly user: User | null;
  /** CSRF token for the forms on the page (the sign-out form included). */
  readonly csrf: string;
  readonly nav?: NavKey;
}

export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />;
}

const NAV: { key: Exclude<NavKey, null>; href: string; label: string; admin?: boolean }[] = [
  { key: 'home', href: '/', label: 'Projects and groups' },
  { key: 'tokens', href: '/-/user_settings/personal_access_tokens', label: 'Access tokens' },
  { key: 'applications', href: '/-/user_settings/applications', label: 'Applications' },
  { key: 'expiring', href: '/-/expiring', label: 'What expires when' },
  { key: 'inventory', href: '/-/inventory', label: 'Inventory' },
  { key: 'audit', href: '/-/audit_events', label: 'Audit log' },
  { key: 'admin', href: '/admin', label: 'Admin', admin: true },
];

export function Layout({ title, chrome, children }: { title: string; chrome: PageChrome; children: ComponentChildren }) {
  const { user } = chrome;
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · Latchkey`}</title>
        <link rel="stylesheet" href="/assets/latchkey.css" />
        <script type="module" src="/assets/latchkey.js" />
      </head>
      <body>
        <a class="skip-link" href="#main">Skip to content</a>
        <header class="top">
          <a class="brand" href="/">Latchkey</a>
          {user && (
            <nav aria-label="Main">
              <ul>
                {NAV.filter((n) => !n.admin || user.isAdmin).map((n) => (
                  <li>
                    <a href={n.href} aria-current={chrome.nav === n.key ? 'page' : undefined}>{n.label}</a>
                  </li>
                ))}
              </ul>
            </nav>
          )}
          {user && (
            <form class="sign-out" method="post" action="/users/sign_out">
              <CsrfField token={chrome.csrf} />
              <span class="who">{user.username}</span> <button type="submit" class="link">Sign out</button>
            </form>
          )}
        </header>
        <main id="main" tabIndex={-1}>
          <h1>{title}</h1>
          {children}
        </main>
      </body>
    </html>
  );
}

/** A fixed notice after a redirect (`?notice=revoked`): looked up here, never echoed from the URL. */
export function Notice({ kind = 'info', children }: { kind?: 'info' | 'success' | 'error' | 'warning'; children: ComponentChildren }) {
  return (
    <div class={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

/** A wide table that scrolls sideways on a narrow screen, reachable by keyboard. */
export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/** The links of a keyset-paged list (nothing counted, so no page numbers): back to the first page, and the rows after the last one shown. */
export function KeysetPager({ label, firstHref, nextHref }: { label: string; firstHref: string | null; nextHref: string | null }) {
  if (nextHref === null && firstHref === null) return null;
  return (
    <nav class="pager" aria-label={label}>
      {firstHref !== null && <a href={firstHref}>First page</a>}
      {nextHref !== null && (
        <a href={nextHref} rel="next">
          Next
        </a>
      )}
    </nav>
  );
}

/** The next keyset page's link: `hrefAfter` the last id shown, or null when no rows follow. */
export function keysetNextHref(page: Page<{ id: number }>, hrefAfter: (lastId: number) => string): string | null {
  const last = page.items.at(-1);
  return page.hasNext && last !== undefined ? hrefAfter(last.id) : null;
}
