/**
 * Parser of the template language. A `{` starts a tag only when a keyword, a function, a root
 * (`lead`, `apicontent`, `subscription`, `unsubscribe`) or a loop variable follows it at once; every other brace is
 * text, so CSS and JSON inside a template need no escaping. Inside a tag the parser is strict and
 * reports the line and column of what it cannot read.
 */
import {
  BINARY_OPS,
  FUNCTIONS,
  ROOTS,
  TemplateSyntaxError,
  type BinaryOp,
  type Expr,
  type FunctionName,
  type Node,
  type Pos,
} from './ast.ts';

const KEYWORDS = new Set(['if', 'else', 'end', 'for']);
const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;

type Token =
  | { k: 'word'; v: string; at: number } // a name or a dotted path
  | { k: 'str'; v: string; at: number }
  | { k: 'num'; v: number; at: number }
  | { k: 'punct'; v: '(' | ')' | ','; at: number };

type Terminator = 'end' | 'else' | 'elseif' | 'eof';

/**
 * How deep blocks ({if}/{for} inside each other) and expressions (parentheses, `not`, calls) may
 * nest. The parser and the renderer recurse; without a bound, 20,000 nested {if} overflowed the
 * stack (a 500 from templates/add). Real templates nest a handful of levels.
 */
const PARSE_LIMITS = { blockDepth: 100, exprDepth: 100 };

export function parseTemplate(src: string): Node[] {
  return new Parser(src).parseAll();
}

class Parser {
  private i = 0;
  private depth = 0;
  private readonly lineStarts: number[] = [0];

  constructor(private readonly src: string) {
    for (let k = 0; k < src.length; k++) if (src.charCodeAt(k) === 10) this.lineStarts.push(k + 1);
  }

  parseAll(): Node[] {
    const { nodes, end } = this.parseBlock(new Set(), false);
    if (end.kind !== 'eof') throw this.error(end.at, `{${end.kind}} without an open {if} or {for}`);
    return nodes;
  }

  private pos(offset: number): Pos {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo] + 1 };
  }

  private error(offset: number, reason: string): TemplateSyntaxError {
    const p = this.pos(offset);
    return new TemplateSyntaxError(p.line, p.column, reason);
  }

  /**
   * Nodes up to `{end}`, `{else}`, `{else if ...}` or the end of input; says which one stopped it and
   * where, with the condition's tokens for `{else if}`.
   */
  private parseBlock(scope: Set<string>, allowElse: boolean): { nodes: Node[]; end: { kind: Terminator; at: number; cond?: Token[] } } {
    const nodes: Node[] = [];
    let text = '';
    const flush = () => {
      if (text) nodes.push({ t: 'text', v: text });
      text = '';
    };
    while (this.i < this.src.length) {
      const open = this.src.indexOf('{', this.i);
      if (open < 0) {
        text += this.src.slice(this.i);
        this.i = this.src.length;
        break;
      }
      text += this.src.slice(this.i, open);
      WORD.lastIndex = open + 1;
      const word = WORD.exec(this.src)?.[0];
      const isTag =
        word !== undefined &&
        (KEYWORDS.has(word) || (FUNCTIONS as readonly string[]).includes(word) || (ROOTS as readonly string[]).includes(word) || scope.has(word));
      if (!isTag) {
        text += '{';
        this.i = open + 1;
        continue;
      }
      flush();
      const close = this.findClose(open);
      const tokens = this.tokenize(open + 1, close);
      this.i = close + 1;
      const head = tokens[0] as Token & { k: 'word' };
      if (head.v === 'else' && tokens[1]?.k === 'word' && tokens[1].v === 'if') {
        if (!allowElse) throw this.error(open, '{else if} without an open {if}');
        return { nodes, end: { kind: 'elseif', at: open, cond: tokens.slice(1) } };
      }
      if (head.v === 'end' || head.v === 'else') {
        if (tokens.length > 1) throw this.error(tokens[1].at, `{${head.v}} takes nothing after it`);
        if (head.v === 'else' && !allowElse) throw this.error(open, '{else} without an open {if}');
        return { nodes, end: { kind: head.v, at: open } };
      }
      if (head.v === 'if' || head.v === 'for') {
        if (++this.depth > PARSE_LIMITS.blockDepth) throw this.error(open, `{if} and {for} are nested deeper than ${PARSE_LIMITS.blockDepth} levels`);
        nodes.push(head.v === 'if' ? this.parseIf(tokens, open, scope) : this.parseFor(tokens, open, scope));
        this.depth--;
      } else {
        const r = new ExprReader(tokens, close, this);
        const e = r.primary();
        if (e.t !== 'path' && e.t !== 'call') throw this.error(open, 'a tag outputs a variable or a function call');
        r.expectEnd();
        nodes.push({ t: 'out', e });
      }
    }
    flush();
    return { nodes, end: { kind: 'eof', at: this.src.length } };
  }

  private parseIf(tokens: Token[], open: number, scope: Set<string>): Node {
    if (tokens.length < 2) throw this.error(open, '{if} needs a condition');
    const r = new ExprReader(tokens.slice(1), tokens[0].at, this);
    const cond = r.expr();
    r.expectEnd();
    const first = this.parseBlock(scope, true);
    if (first.end.kind === 'eof') throw this.error(open, '{if} is not closed with {end}');
    // biome-ignore lint/suspicious/noThenProperty: the AST's branches of {if}; a node is never awaited
    if (first.end.kind === 'end') return { t: 'if', cond, then: first.nodes, else: [] };
    if (first.end.kind === 'elseif') {
      // {if a}..{else if b}..{end} is {if a}..{else}{if b}..{end}{end} sharing one {end}; each link of the
      // chain counts as a level of nesting, so the renderer's recursion stays bounded.
      if (++this.depth > PARSE_LIMITS.blockDepth) throw this.error(first.end.at, `{if} and {for} are nested deeper than ${PARSE_LIMITS.blockDepth} levels`);
      const rest = this.parseIf(first.end.cond!, first.end.at, scope);
      this.depth--;
      // biome-ignore lint/suspicious/noThenProperty: the AST's branches of {if}; a node is never awaited
      return { t: 'if', cond, then: first.nodes, else: [rest] };
    }
    const second = this.parseBlock(scope, false);
    if (second.end.kind !== 'end') throw this.error(open, '{if} is not closed with {end}');
    // biome-ignore lint/suspicious/noThenProperty: the AST's branches of {if}; a node is never awaited
    return { t: 'if', cond, then: first.nodes, else: second.nodes };
  }

  private parseFor(tokens: Token[], open: number, scope: Set<string>): Node {
    // {for value in source} or {for key, value in source}
    const names: string[] = [];
    let k = 1;
    const loopVar = (t: Token | undefined): string => {
      if (t?.k !== 'word' || t.v.includes('.')) throw this.error(t?.at ?? open, '{for} needs a loop variable name');
      if (KEYWORDS.has(t.v) || (ROOTS as readonly string[]).includes(t.v) || (FUNCTIONS as readonly string[]).includes(t.v) || isOperatorWord(t.v)) {
        throw this.error(t.at, `'${t.v}' cannot be a loop variable`);
      }
      return t.v;
    };
    names.push(loopVar(tokens[k++]));
    if (tokens[k]?.k === 'punct' && tokens[k].v === ',') {
      k++;
      names.push(loopVar(tokens[k++]));
    }
    const inTok = tokens[k++];
    if (inTok?.k !== 'word' || inTok.v !== 'in') throw this.error(inTok?.at ?? open, "{for} needs 'in' after its variables");
    if (k >= tokens.length) throw this.error(open, '{for} needs a list or object to loop over');
    const r = new ExprReader(tokens.slice(k), inTok.at, this);
    const source = r.primary();
    if (source.t !== 'path' && source.t !== 'call') throw this.error(open, '{for} loops over a variable or a function call');
    r.expectEnd();
    const inner = new Set(scope);
    for (const n of names) inner.add(n);
    const body = this.parseBlock(inner, false);
    if (body.end.kind !== 'end') throw this.error(open, '{for} is not closed with {end}');
    const [key, value] = names.length === 2 ? names : [null, names[0]];
    return { t: 'for', key, value, source, body: body.nodes };
  }

  /** The `}` closing the tag opened at `open`, skipping braces inside string literals. */
  private findClose(open: number): number {
    let quote = '';
    for (let k = open + 1; k < this.src.length; k++) {
      const c = this.src[k];
      if (quote) {
        if (c === '\\') k++;
        else if (c === quote) quote = '';
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '}') return k;
      else if (c === '{' || c === '\n') break;
    }
    throw this.error(open, 'tag is not closed with }');
  }

  private tokenize(from: number, to: number): Token[] {
    const s = this.src;
    const tokens: Token[] = [];
    let k = from;
    while (k < to) {
      const c = s[k];
      if (c === ' ' || c === '\t' || c === '\r') {
        k++;
      } else if (c === '(' || c === ')' || c === ',') {
        tokens.push({ k: 'punct', v: c, at: k++ });
      } else if (c === '"' || c === "'") {
        let v = '';
        let j = k + 1;
        for (; j < to && s[j] !== c; j++) {
          if (s[j] === '\\' && j + 1 < to) j++;
          v += s[j];
        }
        if (j >= to) throw this.error(k, 'string is not closed');
        tokens.push({ k: 'str', v, at: k });
        k = j + 1;
      } else if (/[0-9-]/.test(c)) {
        const m = /^-?[0-9]+(\.[0-9]+)?/.exec(s.slice(k, to));
        if (!m) throw this.error(k, `unexpected '${c}'`);
        tokens.push({ k: 'num', v: Number(m[0]), at: k });
        k += m[0].length;
      } else if (/[A-Za-z_]/.test(c)) {
        const m = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*/.exec(s.slice(k, to))!;
        if (s[k + m[0].length] === '.') throw this.error(k + m[0].length, 'a path cannot end with .');
        tokens.push({ k: 'word', v: m[0], at: k });
        k += m[0].length;
      } else {
        throw this.error(k, `unexpected '${c}'`);
      }
    }
    return tokens;
  }

  fail(offset: number, reason: string): never {
    throw this.error(offset, reason);
  }

  position(offset: number): Pos {
    return this.pos(offset);
  }
}

const isOperatorWord = (w: string) => (BINARY_OPS as readonly string[]).includes(w) || w === 'not' || w === 'true' || w === 'false';

/**
 * Expressions, with Python's precedence: `or`/`and` bind loosest, then `not`, then the comparisons
 * `equal`, `contains`, `in`. As in Altcraft, a third operand needs parentheses: `a and (b and c)`.
 */
class ExprReader {
  private k = 0;
  private depth = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly endAt: number,
    private readonly p: Parser,
  ) {}

  private peek(): Token | undefined {
    return this.tokens[this.k];
  }
  private at(): number {
    return this.peek()?.at ?? this.endAt;
  }
  private isWord(v: string): boolean {
    const t = this.peek();
    return t?.k === 'word' && t.v === v;
  }

  expectEnd(): void {
    if (this.k < this.tokens.length) this.p.fail(this.at(), `unexpected '${describe(this.peek()!)}'`);
  }

  /** Counts one level of nesting at the current token; refuses past PARSE_LIMITS.exprDepth. */
  private nest<T>(read: () => T): T {
    if (++this.depth > PARSE_LIMITS.exprDepth) this.p.fail(this.at(), `expression is nested deeper than ${PARSE_LIMITS.exprDepth} levels (parentheses, not, calls)`);
    const e = read();
    this.depth--;
    return e;
  }

  expr(): Expr {
    return this.nest(() => this.binary());
  }

  private binary(): Expr {
    const l = this.notExpr();
    const op = this.logicalOp();
    if (!op) return l;
    this.k++;
    const r = this.notExpr();
    if (this.logicalOp() || this.comparisonOp()) this.p.fail(this.at(), 'more than two operands need parentheses: a and (b and c)');
    return { t: 'bin', op, l, r };
  }

  private logicalOp(): BinaryOp | null {
    return this.isWord('and') ? 'and' : this.isWord('or') ? 'or' : null;
  }
  private comparisonOp(): BinaryOp | null {
    for (const op of ['equal', 'contains', 'in'] as const) if (this.isWord(op)) return op;
    return null;
  }

  private notExpr(): Expr {
    if (this.isWord('not')) {
      this.k++;
      return { t: 'not', e: this.nest(() => this.notExpr()) };
    }
    const l = this.primary();
    const op = this.comparisonOp();
    if (!op) return l;
    this.k++;
    const r = this.primary();
    if (this.comparisonOp()) this.p.fail(this.at(), 'more than two operands need parentheses: a and (b and c)');
    return { t: 'bin', op, l, r };
  }

  primary(): Expr {
    const t = this.peek();
    if (!t) this.p.fail(this.endAt, 'expected a value');
    this.k++;
    if (t.k === 'str') return { t: 'str', v: t.v };
    if (t.k === 'num') return { t: 'num', v: t.v };
    if (t.k === 'punct') {
      if (t.v !== '(') this.p.fail(t.at, `unexpected '${t.v}'`);
      const e = this.expr();
      const close = this.peek();
      if (close?.k !== 'punct' || close.v !== ')') this.p.fail(this.at(), "expected ')'");
      this.k++;
      return e;
    }
    if (t.v === 'true' || t.v === 'false') return { t: 'bool', v: t.v === 'true' };
    if (isOperatorWord(t.v)) this.p.fail(t.at, `expected a value, found '${t.v}'`);
    if ((FUNCTIONS as readonly string[]).includes(t.v)) return this.call(t.v as FunctionName, t.at);
    const [root, ...path] = t.v.split('.');
    return { t: 'path', root, path, pos: this.p.position(t.at) };
  }

  /** `name(arg arg)` or `name(arg, arg)`: Altcraft writes the arguments without commas. */
  private call(name: FunctionName, at: number): Expr {
    const open = this.peek();
    if (open?.k !== 'punct' || open.v !== '(') this.p.fail(this.at(), `expected '(' after ${name}`);
    this.k++;
    const args: Expr[] = [];
    for (;;) {
      const t = this.peek();
      if (!t) this.p.fail(this.endAt, `${name}( is not closed with )`);
      if (t.k === 'punct' && t.v === ')') {
        this.k++;
        break;
      }
      if (t.k === 'punct' && t.v === ',') {
        this.k++;
        continue;
      }
      args.push(this.nest(() => this.primary()));
    }
    const arity = name === 'subscription_field' ? [2] : [2, 3];
    if (!arity.includes(args.length)) this.p.fail(at, `${name} takes ${arity.join(' or ')} arguments, not ${args.length}`);
    return { t: 'call', name, args, pos: this.p.position(at) };
  }
}

function describe(t: Token): string {
  return t.k === 'str' ? `"${t.v}"` : String(t.v);
}
