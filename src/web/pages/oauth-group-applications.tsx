/**
 * GitLab's group Settings → Applications (`/groups/<group path>/-/settings/applications`): the OAuth2
 * applications a group's Owners register, renew and delete. The user's page components over the group's
 * applications; to anyone but an Owner (admins are) the page does not exist. Reached through the
 * namespace page dispatcher, which has checked sign-in and CSRF.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Group, User } from '../../namespaces/namespace.js';
import type { WebContext } from '../web-context.js';
import type { WebPageTools } from '../web-tools.js';
import { createApplicationPages, type ApplicationsScope } from './oauth-applications.js';

export function groupApplicationsScope(group: Group): ApplicationsScope {
  return {
    reach: { group: group.fullPath },
    base: `/groups/${group.fullPath}/-/settings/applications`,
    title: `Applications · ${group.fullPath}`,
    intro: `Manage the applications that use Latchkey as an OAuth provider on behalf of ${group.fullPath}. Their users sign in and authorise them as for any other application.`,
    listHeading: 'Group applications',
    emptyText: 'This group has no applications.',
    nav: 'home',
    withAuthorized: false,
  };
}

export function createGroupApplicationPages(ctx: WebContext, tools: WebPageTools) {
  const pages = createApplicationPages(ctx, tools);
  /** Answers `sub` below the group's applications page, or null when it names no page. */
  return async (request: FastifyRequest, reply: FastifyReply, user: User, group: Group, sub: string): Promise<FastifyReply | null> => {
    // Owners only, before anything is shown or read from the form.
    await ctx.services.oauthApplications.ownedGroup(user, group.fullPath);
    return pages.handle(groupApplicationsScope(group), request, reply, sub);
  };
}
