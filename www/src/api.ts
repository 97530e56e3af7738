// The demo backend's REST API, with the page's switches: "slow API" delays every change and
// "fail the next request" makes the next one fail (then switches itself off).
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export class ApiError extends Error {}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (method !== 'GET') {
    if ($<HTMLInputElement>('slow').checked) headers['x-demo-delay'] = '1500';
    const fail = $<HTMLInputElement>('fail-next');
    if (fail.checked) {
      headers['x-demo-fail'] = '1';
      fail.checked = false;
    }
  }
  const response = await fetch(`/demo/api/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 204) return undefined as T;
  const json = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new ApiError(json.error ?? `HTTP ${response.status}`);
  return json as T;
}

export const api = {
  list: <T>(collection: string) => call<T[]>('GET', collection),
  create: <T>(collection: string, item: Partial<T>) => call<T>('POST', collection, item),
  update: <T>(collection: string, id: string, patch: Partial<T>) => call<T>('PATCH', `${collection}/${id}`, patch),
  remove: (collection: string, id: string) => call<void>('DELETE', `${collection}/${id}`),
  outage: (ms: number) => call<unknown>('POST', 'outage', { ms }),
  activity: (rate: number) => call<unknown>('PUT', 'activity', { rate }),
  rate: () => call<{ rate: number }>('GET', 'activity'),
};
