// The demo backend's REST API through HttpClient, with the page's "fail the next request" and
// "slow API" switches as signals.
import { HttpClient, HttpHeaders } from '@angular/common/http';
import { Injectable, inject, signal } from '@angular/core';
import { firstValueFrom } from 'rxjs';

@Injectable({ providedIn: 'root' })
export class DemoApi {
  private readonly http = inject(HttpClient);
  readonly failNext = signal(false);
  readonly slow = signal(true);

  list<T>(collection: string): Promise<T[]> {
    return firstValueFrom(this.http.get<T[]>(`/demo/api/${collection}`));
  }

  async update<T>(collection: string, id: string, patch: Partial<T>): Promise<T> {
    let headers = new HttpHeaders();
    if (this.slow()) headers = headers.set('x-demo-delay', '1500');
    if (this.failNext()) {
      headers = headers.set('x-demo-fail', '1');
      this.failNext.set(false);
    }
    try {
      return await firstValueFrom(this.http.patch<T>(`/demo/api/${collection}/${id}`, patch, { headers }));
    } catch (e: unknown) {
      const body = (e as { error?: { error?: string } }).error;
      throw new Error(body?.error ?? 'the request failed');
    }
  }
}
