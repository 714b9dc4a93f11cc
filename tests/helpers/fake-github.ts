// A local GitHub REST double for the PR comment: issue comments only (list with
// pagination, create, update), recording every call. Point GITHUB_API_URL at `url`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface RecordedCall {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string;
  body: unknown;
}

interface StoredComment {
  id: number;
  body: string;
  user: { login: string; type: string };
  html_url: string;
}

interface Fault {
  method: 'GET' | 'POST' | 'PATCH';
  status: number;
  message: string;
}

export interface FakeGitHub {
  url: string;
  calls: RecordedCall[];
  /** Comments per issue number. */
  comments: Map<number, StoredComment[]>;
  /** Answer this method with this status (e.g. 403) until cleared. */
  fault: Fault | null;
  /** What GET /user answers: a personal token's user, or null for the workflow's token (403). */
  user: { login: string; type: string } | null;
  /** Who new comments are written by (the token's identity). */
  author: { login: string; type: string };
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text === '' ? null : (JSON.parse(text) as unknown));
      } catch {
        resolve(text);
      }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

export async function startFakeGitHub(owner: string, repo: string): Promise<FakeGitHub> {
  let nextId = 1000;
  const state: Omit<FakeGitHub, 'url' | 'close'> = {
    calls: [],
    comments: new Map(),
    fault: null,
    user: null,
    author: { login: 'github-actions[bot]', type: 'Bot' },
  };
  let base = '';
  const listPath = new RegExp(`^/repos/${owner}/${repo}/issues/(\\d+)/comments$`);
  const onePath = new RegExp(`^/repos/${owner}/${repo}/issues/comments/(\\d+)$`);

  const server: Server = createServer((req, res) => {
    void (async () => {
      const u = new URL(req.url ?? '/', base);
      const body = await readBody(req);
      const method = req.method ?? 'GET';
      state.calls.push({ method, path: u.pathname, query: Object.fromEntries(u.searchParams), authorization: String(req.headers.authorization ?? ''), body });
      if (state.fault && state.fault.method === method) {
        send(res, state.fault.status, {
          message: state.fault.message,
          documentation_url: 'https://docs.github.com/rest/issues/comments',
          status: String(state.fault.status),
        });
        return;
      }
      if (u.pathname === '/user' && method === 'GET') {
        if (state.user) send(res, 200, state.user);
        else send(res, 403, { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest/users/users' });
        return;
      }
      const list = listPath.exec(u.pathname);
      if (list) {
        const issue = Number(list[1]);
        const comments = state.comments.get(issue) ?? [];
        if (method === 'GET') {
          const per = Number(u.searchParams.get('per_page') ?? '30');
          const page = Number(u.searchParams.get('page') ?? '1');
          const last = Math.max(1, Math.ceil(comments.length / per));
          const link = (p: number): string => `<${base}${u.pathname}?per_page=${per}&page=${p}>`;
          const links: Record<string, string> = page < last ? { link: `${link(page + 1)}; rel="next", ${link(last)}; rel="last"` } : {};
          send(res, 200, comments.slice((page - 1) * per, page * per), links);
          return;
        }
        if (method === 'POST') {
          const id = nextId++;
          const c: StoredComment = {
            id,
            body: String((body as { body?: unknown }).body),
            user: { ...state.author },
            html_url: `https://github.com/${owner}/${repo}/pull/${issue}#issuecomment-${id}`,
          };
          state.comments.set(issue, [...comments, c]);
          send(res, 201, c);
          return;
        }
      }
      const one = onePath.exec(u.pathname);
      if (one && method === 'PATCH') {
        const id = Number(one[1]);
        for (const comments of state.comments.values()) {
          const c = comments.find((x) => x.id === id);
          if (c) {
            c.body = String((body as { body?: unknown }).body);
            send(res, 200, c);
            return;
          }
        }
      }
      send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    })().catch((e: unknown) => send(res, 500, { message: String(e) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    url: base,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  });
}
