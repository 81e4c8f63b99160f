const greeting: string = "hello";
const parts = greeting.split("");
consol.log(parts.length);
