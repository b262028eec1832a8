// Nothing to import: the target exists for the accept4 definition it links into normd
// (accept4.c says why).
