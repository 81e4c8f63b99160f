import { formatNme } from "./lib";

console.log(formatNme(" ci "));
