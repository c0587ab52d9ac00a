/**
 * Markdown that people wrote (an inventory entry's renewal procedure) rendered to HTML safely, with
 * markdown-it: raw HTML in the source is disabled (`html: false`: `<script>` shows as text), and its
 * link check refuses `javascript:`, `vbscript:`, `file:` and non-image `data:` URLs. This is the one
 * place the web UI inserts HTML it did not build from components; the CSP forbids inline script anyway.
 */
import MarkdownIt from 'markdown-it';

const md = new MarkdownIt('commonmark', { html: false, linkify: false, typographer: false });

// Links leave the page without handing it a reference or a referrer.
const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx]!.attrSet('rel', 'noopener noreferrer nofollow');
  return defaultLinkOpen(tokens, idx, options, env, self);
};

/** The HTML of `source`; everything in it is escaped except the markup Markdown itself makes. */
export function renderMarkdown(source: string): string {
  return md.render(source);
}
