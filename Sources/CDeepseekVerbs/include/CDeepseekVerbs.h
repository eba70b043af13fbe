int CDeepseekVerbs_placeholder(void);
