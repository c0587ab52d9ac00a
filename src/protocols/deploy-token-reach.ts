/**
 * Which projects a deploy token reaches, as GitLab's `DeployToken#has_access_to?`: a project token its
 * own project; a group token every project of the group and of its sub-groups. Shared by the protocol
 * endpoints (registry, git, packages).
 */
import type { Project } from '../namespaces/namespace.js';
import type { NamespaceStore } from '../namespaces/namespace-store.js';
import type { Token } from '../tokens/token.js';

export async function deployTokenReaches(groups: Pick<NamespaceStore, 'findGroupById'>, token: Token, project: Project): Promise<boolean> {
  if (token.projectId !== null) return token.projectId === project.id;
  if (token.groupId === null) return false;
  const group = await groups.findGroupById(project.groupId);
  return group !== null && group.ancestorIds.includes(token.groupId);
}
