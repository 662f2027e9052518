/**
 * What the signed-in token may do (tokens/me: its role and access classes), so the console hides what
 * the role cannot do. The server refuses it anyway (403); hiding spares the user a button that cannot work.
 */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { DataOf } from './api.ts';

export type Me = DataOf<'tokens/me'>;

export const MeContext = createContext<Me>({ name: '', role: 'viewer', grants: 'read only', access: ['read'] });

type Access = 'read' | 'write' | 'launch' | 'admin';

/** Whether the signed-in token may do `access`. */
export function useCan(): (access: Access) => boolean {
  const me = useContext(MeContext);
  return (access) => me.access.includes(access);
}
