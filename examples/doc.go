// Package examples holds no Go code of the product: it is the home of the
// verification recipes portals copy (examples/java: BouncyCastle;
// examples/node: npm sm-crypto), and of the test that runs them against a
// live gateway so that the snippets in docs/integration.md cannot rot.
// Nothing here may be imported by product code.
package examples
