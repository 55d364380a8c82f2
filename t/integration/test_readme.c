/* The README's example, compiled from README.md itself, run against the
 * test upstream. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"

int readme_main(int argc, char **argv);

Test(readme, example_runs) {
  upstream u;
  cr_assert_eq(upstream_start(&u), 0);
  char url[128];
  char *argv[] = {"example", (char *)upstream_url(&u, "/x?size=10", url, sizeof url), NULL};
  cr_expect_eq(readme_main(2, argv), 0);
  char bad[128];
  snprintf(bad, sizeof bad, "http://127.0.0.1:%d/", closed_port());
  char *argv2[] = {"example", bad, NULL};
  cr_expect_eq(readme_main(2, argv2), 1, "a refused connection must fail the example");
  upstream_stop(&u);
}
