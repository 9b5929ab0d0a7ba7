import { Injectable } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';

/** A user the sample can log in as. */
export interface User {
  id: number;
  username: string;
}

/** The sample's demo users (a second one shows that a user sees only their own sessions). A real app looks users up in its database and stores password hashes. */
@Injectable()
export class UsersService {
  private readonly users = [
    { id: 1, username: 'demo', password: process.env.DEMO_PASSWORD ?? 'demo' },
    { id: 2, username: 'demo2', password: process.env.DEMO2_PASSWORD ?? 'demo2' },
  ];

  /** The user with these credentials, or undefined. */
  validate(username: unknown, password: unknown): User | undefined {
    if (typeof username !== 'string' || typeof password !== 'string') return undefined;
    const user = this.users.find((u) => u.username === username);
    if (!user || !sameText(user.password, password)) return undefined;
    return { id: user.id, username: user.username };
  }

  /** Sets a user's password (the sample keeps it in memory). */
  changePassword(id: number, password: string): void {
    const user = this.users.find((u) => u.id === id);
    if (user) user.password = password;
  }
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
