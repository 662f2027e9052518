/**
 * Roles on API tokens, and which methods each may call. A method's access class is part of its
 * declaration (`method()` in http/api.ts, `access`, else the default its path gives); the token check
 * (`requireToken`) refuses a method outside the token's role with 403 naming the role.
 */
export const ROLES = ['admin', 'editor', 'viewer', 'trigger'] as const;
export type Role = (typeof ROLES)[number];

/**
 * What a method does: `read` changes nothing; `write` changes the catalog, profiles or messages;
 * `launch` starts campaigns (and reads a batch task's state); `admin` manages tokens; `self` (every
 * role) tells a token its own name and role. Provider secrets
 * on resources are checked on the body (`mayWriteSecrets`), as the same method may or may not carry them.
 */
export type Access = 'read' | 'write' | 'launch' | 'admin' | 'self';

const GRANTS: Record<Role, readonly Access[]> = {
  admin: ['read', 'write', 'launch', 'admin', 'self'],
  editor: ['read', 'write', 'launch', 'self'],
  viewer: ['read', 'self'],
  trigger: ['launch', 'self'],
};

/** What each role may do, in words: the 403 text and `tokens/list` say it. */
export const ROLE_SUMMARY: Record<Role, string> = {
  admin: 'everything',
  editor: 'everything except tokens and provider secrets',
  viewer: 'read only',
  trigger: 'only the launch methods and v1.0 links',
};

const READ_VERBS = new Set(['get', 'list', 'stats', 'get_status', 'log_v2', 'fields', 'fields_get', 'deliveries', 'erasures', 'attachment', 'preview']);
const LAUNCH_PATH = /^\/campaigns\/triggers\/(start|start_batch|start_batch_task|import_and_start|import_and_start_batch|import_and_start_batch_task)$/;

/** The access class a method's path gives when its declaration names none. */
export function accessOfPath(path: string): Access {
  if (LAUNCH_PATH.test(path) || path === '/tasks/get') return 'launch';
  if (path === '/tokens/me') return 'self';
  if (path.startsWith('/tokens/')) return 'admin';
  const verb = path.slice(path.lastIndexOf('/') + 1);
  return READ_VERBS.has(verb) ? 'read' : 'write';
}

export const isRole = (v: unknown): v is Role => typeof v === 'string' && (ROLES as readonly string[]).includes(v);

export const mayCall = (role: Role, access: Access): boolean => GRANTS[role].includes(access);

/** The access classes a role has (tokens/me answers them, so the console decides nothing itself). */
export const accessOf = (role: Role): readonly Access[] => GRANTS[role];

/** Only an admin token sets a resource's provider secrets. */
export const mayWriteSecrets = (role: Role): boolean => role === 'admin';

/** The 403 text of a method outside the role. */
export const roleRefusal = (role: Role, method: string, what = `call ${method}`) =>
  `this token's role is ${role} (${ROLE_SUMMARY[role]}): it may not ${what}`;
