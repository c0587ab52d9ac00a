/** Offset pagination as GitLab's `page`/`per_page`: the request and the result a store returns. */
export interface PageRequest {
  readonly page: number;
  readonly perPage: number;
}

export interface Page<T> {
  readonly items: T[];
  readonly total: number;
}

export const offsetOf = (p: PageRequest): number => (p.page - 1) * p.perPage;
