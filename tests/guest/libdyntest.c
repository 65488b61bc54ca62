/* libdyntest: a tiny shared library that tests/guest/dynamic.c loads with
 * dlopen. Its constructor runs at load time and sets what dyntest_name
 * returns, so the test also sees that initializers of a dlopened library run. */
static const char *name = "not initialized";

__attribute__((constructor)) static void init(void)
{
	name = "libdyntest";
}

int dyntest_add(int a, int b)
{
	return a + b;
}

const char *dyntest_name(void)
{
	return name;
}
