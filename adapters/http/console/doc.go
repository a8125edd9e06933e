// Package console is the operators' web console: a page and its assets,
// embedded in the binary and served as they are (vanilla JavaScript
// modules and CSS, no build step, nothing fetched from elsewhere). The
// console talks only to the admin JSON API under /v1 on the same origin;
// it holds no state of its own besides the page in the browser.
package console
