# Production-like image for docker-compose (web under gunicorn, celery worker, celery beat).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt
COPY . .
RUN useradd --system --uid 10001 yikatong && mkdir -p /app/var && chown yikatong /app/var
USER yikatong
EXPOSE 8000
CMD ["gunicorn", "yikatong.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
