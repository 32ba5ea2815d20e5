// Must not compile: a dialect this build lacks has no producer API (its header stops with an
// error saying how to build it).
#include <reflex/rsql/postgres.hpp>

int main() {}
