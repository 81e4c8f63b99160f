interface User {
  name: string;
  email: string;
}

export function label(user: User): string {
  return `${user.name} <${user.emial}>`;
}
