// Package action holds the GitHub Action's setup script (setup.sh), which
// fetches a verified release binary or builds gemscan from source, and the
// tests that run it against a local fake release server.
package action
