import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsArray, IsDefined, IsOptional, IsString, ValidateNested } from 'class-validator';
import { SENTIMENT_LABELS } from '@reputation-monitor/contracts';

// Shapes only; content rules (blank text, length, id format, item count) are the producer's,
// shared with internal producers, and checked right after.

export class SentimentRequestDto {
  @ApiProperty({ example: 'Loving the new update, great job @acme!', description: 'The text to classify.' })
  @IsDefined()
  @IsString()
  text!: string;

  @ApiPropertyOptional({
    example: '1712345678901234567',
    description:
      'Your id for this text. Retrying with the same id returns the same job instead of inferring again.',
  })
  @IsOptional()
  @IsString()
  id?: string;

  @ApiPropertyOptional({
    example: 'twitter',
    description: 'Where the text comes from (letters, digits, _ . -).',
  })
  @IsOptional()
  @IsString()
  source?: string;
}

export class BatchItemDto {
  @ApiProperty({ example: 'Worst support ever.' })
  @IsDefined()
  @IsString()
  text!: string;

  @ApiPropertyOptional({ example: 'tweet-42' })
  @IsOptional()
  @IsString()
  id?: string;
}

export class BatchRequestDto {
  @ApiProperty({
    type: [BatchItemDto],
    description: 'Texts to classify; results come back in the same order.',
  })
  @IsDefined()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => BatchItemDto)
  items!: BatchItemDto[];

  @ApiPropertyOptional({ example: 'twitter' })
  @IsOptional()
  @IsString()
  source?: string;
}

class ScoresDto {
  @ApiProperty() negative!: number;
  @ApiProperty() neutral!: number;
  @ApiProperty() positive!: number;
}

class ModelInfoDto {
  @ApiProperty({ example: 'twitter-roberta-base-sentiment-latest' }) name!: string;
  @ApiProperty({ example: 'fp32-3f1c0a9b2d4e' }) version!: string;
}

class TimingsDto {
  @ApiProperty({ description: 'Enqueued -> picked up by a worker, ms.' }) queueMs!: number;
  @ApiProperty({ description: 'Picked up -> predictions ready, ms.' }) processingMs!: number;
  @ApiPropertyOptional({ description: 'Request received -> answered by the gateway, ms.' }) totalMs?: number;
}

export class PredictionDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: SENTIMENT_LABELS }) label!: string;
  @ApiProperty({ type: ScoresDto }) scores!: ScoresDto;
  @ApiProperty({ description: 'Token ids fed to the model, including <s> and </s>.' }) tokens!: number;
  @ApiProperty({ description: 'True when the text exceeded 512 tokens and its tail was cut.' })
  truncated!: boolean;
}

export class SentimentResponseDto extends PredictionDto {
  @ApiProperty({ type: ModelInfoDto }) model!: ModelInfoDto;
  @ApiProperty({ type: TimingsDto }) timings!: TimingsDto;
}

export class BatchResponseDto {
  @ApiProperty() jobId!: string;
  @ApiProperty({ type: ModelInfoDto }) model!: ModelInfoDto;
  @ApiProperty({ type: [PredictionDto] }) results!: PredictionDto[];
  @ApiProperty({ type: TimingsDto }) timings!: TimingsDto;
}

export class AcceptedJobDto {
  @ApiProperty() jobId!: string;
  @ApiProperty({ enum: ['queued', 'active', 'completed', 'failed'] }) status!: string;
  @ApiProperty({ example: '/v1/jobs/3b0c...' }) statusUrl!: string;
}

export class JobStatusDto {
  @ApiProperty() jobId!: string;
  @ApiProperty({ enum: ['queued', 'active', 'completed', 'failed'] }) status!: string;
  @ApiProperty({ description: 'Texts in the job.' }) items!: number;
  @ApiPropertyOptional({ type: ModelInfoDto }) model?: ModelInfoDto;
  @ApiPropertyOptional({ type: [PredictionDto] }) results?: PredictionDto[];
  @ApiPropertyOptional({ type: TimingsDto }) timings?: TimingsDto;
  @ApiPropertyOptional() error?: string;
}

export class ProblemDto {
  @ApiProperty() type!: string;
  @ApiProperty() title!: string;
  @ApiProperty() status!: number;
  @ApiProperty() code!: string;
  @ApiPropertyOptional() detail?: string;
  @ApiPropertyOptional({ description: 'One entry per bad field: { field, message }.' }) errors?: object[];
}
