/**
 * The storage port of CI/CD variables. Values arrive sealed and leave sealed: this port never sees a
 * plain value. Implemented in store/ci-variables.ts (both dialects).
 */
import type { Page, PageRequest } from '../kernel/page.js';
import type { CiVariable, VariableAttributes, VariableOwner } from './ci-variable.js';

/** A variable with its sealed value, as stored. */
export interface StoredVariable extends CiVariable {
  readonly valueSealed: string;
}

export type SealedAttributes = Omit<VariableAttributes, 'value'> & { readonly valueSealed: string };

export interface CiVariableStore {
  /** The owner's variables, oldest first (GitLab lists them in id order). */
  list(owner: VariableOwner, page: PageRequest): Promise<Page<StoredVariable>>;
  /** Every variable of the owner with this key, in one scope when `environmentScope` is given; oldest first. */
  findByKey(owner: VariableOwner, key: string, environmentScope?: string): Promise<StoredVariable[]>;
  /** Throws the store's ALREADY_EXISTS conflict when the (owner, key, scope) is taken. */
  insert(owner: VariableOwner, attributes: SealedAttributes, at: string): Promise<StoredVariable>;
  /** Throws ALREADY_EXISTS when the new scope collides with another variable of that key. */
  update(id: number, attributes: SealedAttributes, at: string): Promise<StoredVariable>;
  delete(id: number): Promise<void>;
}
