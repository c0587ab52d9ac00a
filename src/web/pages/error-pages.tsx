/** HTML error pages of the web UI (the API keeps GitLab's JSON errors). */
import type { FastifyReply } from 'fastify';
import { Layout, Notice, sendHtml, type PageChrome } from '../html.js';

export function errorPage(reply: FastifyReply, chrome: PageChrome, status: number, title: string, text: string): FastifyReply {
  return sendHtml(
    reply,
    <Layout title={title} chrome={chrome}>
      <Notice kind="error">{text}</Notice>
      <p>
        <a href="/">Go to the start page</a>
      </p>
    </Layout>,
    status,
  );
}

export function notFoundPage(reply: FastifyReply, chrome: PageChrome): FastifyReply {
  return errorPage(reply, chrome, 404, 'Page not found', "The page you were looking for could not be found or you don't have permission to view it.");
}
