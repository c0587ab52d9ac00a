/** What page modules share besides the context: the page chrome and CSRF check, and how a refused form explains itself. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../kernel/errors.js';
import type { PageChrome } from './html.js';

/** What page modules get besides the context: the chrome (user, CSRF token) and the CSRF check. */
export interface WebPageTools {
  chrome(request: FastifyRequest, reply: FastifyReply, nav?: PageChrome['nav']): PageChrome;
  /** preHandler for every state-changing form post. */
  csrf(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void;
}

/** The message a refused form shows: a field error as a sentence, or the service's message. */
export function errorText(e: unknown): string {
  if (e instanceof DomainError) {
    if (e.fields) {
      return Object.entries(e.fields)
        .map(([field, reasons]) => `${field.charAt(0).toUpperCase()}${field.slice(1).replace(/_/g, ' ')} ${reasons.join(', ')}`)
        .join('. ');
    }
    return e.message.replace(/^40\d (Bad request - )?/, '');
  }
  throw e;
}

