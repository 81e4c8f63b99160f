module.exports = [{ rules: { "prefer-const": "error", eqeqeq: "error" } }];
