/** `:id` of a project or group: a number or a URL-encoded full path. */
import { Type } from '@sinclair/typebox';

export const ResourceParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 2048, description: 'ID or URL-encoded full path' }),
});

export const TokenParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 2048, description: 'ID or URL-encoded full path' }),
  token_id: Type.Integer({ minimum: 1, maximum: 2147483647, description: 'ID of the token' }),
});
