import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppModule } from '../../sample/app.module.js';
import { startApp } from '../support/app.js';

describe('the sample app', () => {
  it('counts visits, refuses bad credentials, logs in, shows the dashboard, logs out', async (t) => {
    const app = await startApp(t, AppModule);
    const client = app.client();
    assert.deepEqual((await client.get('/')).body, { message: 'Welcome! First visit.', views: 1 });
    assert.deepEqual((await client.get('/')).body, { message: 'Number of visits: 2', views: 2 });
    assert.equal((await client.get('/dashboard')).status, 401);
    assert.equal((await client.post('/login', { username: 'demo', password: 'wrong' })).status, 401);
    assert.equal((await client.post('/login', {})).status, 401);
    const before = client.jar.get('sample.sid');
    const login = await client.post('/login', { username: 'demo', password: 'demo' });
    assert.equal(login.status, 200);
    assert.notEqual(client.jar.get('sample.sid'), before, 'a new session id at login');
    const dashboard = await client.get('/dashboard');
    assert.equal(dashboard.status, 200);
    assert.deepEqual(dashboard.body, { username: 'demo', views: 2 });
    assert.deepEqual((await client.get('/')).body, { message: 'Number of visits: 3', views: 3 });
    const logout = await client.post('/logout');
    assert.equal(logout.status, 200);
    assert.equal(client.jar.has('sample.sid'), false, 'the cookie was expired');
    assert.equal((await client.get('/dashboard')).status, 401);
  });
});
