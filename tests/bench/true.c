/* true: exits with 0. The exec target of forkexec, the external command of
 * the 500-commands loop, and the start-up workload. */
int main(void)
{
	return 0;
}
