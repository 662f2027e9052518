/** The template language's syntax tree; docs/templates.md describes the language itself. */

export interface Pos {
  line: number;
  column: number;
}

export type Expr =
  | { t: 'path'; root: string; path: string[]; pos: Pos }
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'not'; e: Expr }
  | { t: 'bin'; op: BinaryOp; l: Expr; r: Expr }
  | { t: 'call'; name: FunctionName; args: Expr[]; pos: Pos };

export const BINARY_OPS = ['and', 'or', 'equal', 'contains', 'in'] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export const FUNCTIONS = ['subscription_field', 'jsonpath'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/** Names a template can start a variable with; loop variables join them inside their loop. */
export const ROOTS = ['lead', 'apicontent', 'subscription', 'unsubscribe'] as const;

export type Node =
  | { t: 'text'; v: string }
  | { t: 'out'; e: Expr }
  | { t: 'if'; cond: Expr; then: Node[]; else: Node[] }
  | { t: 'for'; key: string | null; value: string; source: Expr; body: Node[] };

export class TemplateSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super(`line ${line}, column ${column}: ${reason}`);
    this.name = 'TemplateSyntaxError';
  }
}
