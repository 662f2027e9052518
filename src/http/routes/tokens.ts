/** tokens/add|list|delete (admin tokens only) and tokens/me (any token: its own name and role, for the console). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { notFound } from '../../core/errors.ts';
import { accessOf, ROLE_SUMMARY, ROLES } from '../../core/roles.ts';
import { createToken, listTokenViews, type TokenVerifier } from '../../engine/tokens.ts';
import type { TokenStore } from '../../store/store.ts';
import { method } from '../api.ts';
import { answer, list, nullable, object, oneOf, str, text } from '../schemas.ts';

const roles = ROLES.map((r) => `${r} (${ROLE_SUMMARY[r]})`).join(', ');
const tokenName = str("The token's name: 1 to 64 letters, digits, '_', '.', '@' or '-'", 64);

export const tokenRoutes: FastifyPluginAsyncTypebox<{ store: TokenStore; verifier: Pick<TokenVerifier, 'forget'> }> = async (app, { store, verifier }) => {
  method(app, '/tokens/add', 'tokens', {
    summary: 'Create an API token with a role; the token is in this answer only (Salvo keeps its hash)',
    description: `Roles: ${roles}.`,
    body: object({ name: tokenName, role: oneOf(ROLES, 'What the token may do') }, ['name', 'role']),
    data: answer({ name: text('Name'), role: text('Role'), token: text('The token: shown once') }),
    errors: [409],
    handler: async (body) => {
      const made = await createToken(store, body.name, body.role);
      verifier.forget();
      return { data: { name: body.name, role: made.role, token: made.token } };
    },
  });
  method(app, '/tokens/list', 'tokens', {
    summary: 'The API tokens: name, role, creation and last use (recorded at most once a minute); never the token',
    body: object({}),
    data: list(
      answer({ name: text('Name'), role: text('Role'), grants: text('What the role may do'), created: text('Created (ISO 8601)'), last_used: nullable('string', 'Last use (ISO 8601), to the minute; null if never') }),
      'Tokens',
    ),
    handler: async () => ({ data: await listTokenViews(store) }),
  });
  method(app, '/tokens/delete', 'tokens', {
    summary: 'Revoke a token: it stops working at once in this process, within seconds in others',
    body: object({ name: tokenName }, ['name']),
    data: Type.Null(),
    errors: [404],
    handler: async (body) => {
      if (!(await store.deleteToken(body.name))) throw notFound(`token '${body.name}' not found`);
      verifier.forget();
      return { data: null };
    },
  });
  method(app, '/tokens/me', 'tokens', {
    summary: 'The token this request carries: its name and role, and what the role may do (the console hides the rest)',
    body: object({}),
    data: answer({
      name: text('Name'),
      role: text('Role'),
      grants: text('What the role may do'),
      access: list(text('read, write, launch, admin or self'), "The access classes the role has (each method's is in docs/api.md, Tokens and roles)"),
    }),
    handler: async (_body, req) => {
      const role = req.tokenRole ?? 'admin';
      return { data: { name: req.tokenName ?? '', role, grants: ROLE_SUMMARY[role], access: [...accessOf(role)] } };
    },
  });
};
